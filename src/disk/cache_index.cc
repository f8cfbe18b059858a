#include "disk/cache_index.h"

#include <sqlite3.h>

#include <chrono>
#include <set>
#include <thread>
#include <utility>

namespace rangefs::disk {
namespace {

// How long a statement waits for another process's write lock before it is a fault. Writers
// hold it for one batch (milliseconds); 10 s is far beyond that, and short enough that a stuck
// process does not stall this one's writer forever.
constexpr int kBusyTimeoutMs = 10'000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS blocks(
  file TEXT NOT NULL, idx INTEGER NOT NULL, bytes INTEGER NOT NULL, used INTEGER NOT NULL,
  PRIMARY KEY(file, idx)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blocks_by_use ON blocks(used);
CREATE TABLE IF NOT EXISTS usage(id INTEGER PRIMARY KEY CHECK (id = 0), total INTEGER NOT NULL);
INSERT OR IGNORE INTO usage(id, total) VALUES (0, 0);
CREATE TRIGGER IF NOT EXISTS blocks_inserted AFTER INSERT ON blocks BEGIN
  UPDATE usage SET total = total + NEW.bytes WHERE id = 0;
END;
CREATE TRIGGER IF NOT EXISTS blocks_deleted AFTER DELETE ON blocks BEGIN
  UPDATE usage SET total = total - OLD.bytes WHERE id = 0;
END;
)sql";

Status Error(sqlite3* db, int rc) {
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return Status(ErrorCode::kInternal, std::string("index.sqlite: ") + message);
}

struct FinalizeStatement {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

// A prepared statement, finalized on destruction.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) {
    sqlite3_stmt* raw = nullptr;
    rc_ = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
    statement_.reset(raw);
  }
  Status status() const { return rc_ == SQLITE_OK ? Status::Ok() : Error(db_, rc_); }
  Statement& Bind(int column, std::string_view text) {
    sqlite3_bind_text(statement_.get(), column, text.data(), static_cast<int>(text.size()),
                      SQLITE_TRANSIENT);
    return *this;
  }
  Statement& Bind(int column, int64_t value) {
    sqlite3_bind_int64(statement_.get(), column, value);
    return *this;
  }
  Statement& Bind(int column, uint64_t value) { return Bind(column, static_cast<int64_t>(value)); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(statement_.get()); }
  // Runs a statement that returns no row, then makes it ready for new bindings.
  Status Run() {
    const int rc = Step();
    sqlite3_reset(statement_.get());
    sqlite3_clear_bindings(statement_.get());
    return rc == SQLITE_DONE ? Status::Ok() : Error(db_, rc);
  }
  void Reset() { sqlite3_reset(statement_.get()); }
  int64_t Int(int column) { return sqlite3_column_int64(statement_.get(), column); }
  std::string Text(int column) {
    const unsigned char* text = sqlite3_column_text(statement_.get(), column);
    const int size = sqlite3_column_bytes(statement_.get(), column);
    return text == nullptr
               ? std::string()
               : std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(size));
  }

 private:
  sqlite3* db_;
  int rc_;
  std::unique_ptr<sqlite3_stmt, FinalizeStatement> statement_;
};

uint64_t Unsigned(int64_t value) { return value < 0 ? 0 : static_cast<uint64_t>(value); }

Result<uint64_t> ReadTotal(sqlite3* db) {
  Statement total(db, "SELECT total FROM usage WHERE id = 0");
  if (Status s = total.status(); !s.ok()) return s;
  const int rc = total.Step();
  if (rc == SQLITE_ROW) return Unsigned(total.Int(0));
  if (rc == SQLITE_DONE) return uint64_t{0};
  return Error(db, rc);
}

// `path` as an SQLite URI's path: '%', '?' and '#' (and bytes outside printable ASCII) escaped.
std::string UriPathOf(const std::string& path) {
  std::string uri;
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '%' || c == '?' || c == '#' || byte <= 0x20 || byte >= 0x7f) {
      constexpr std::string_view kHex = "0123456789ABCDEF";
      uri += '%';
      uri += kHex[byte >> 4];
      uri += kHex[byte & 0xf];
    } else {
      uri += c;
    }
  }
  return uri;
}

}  // namespace

CacheIndex::CacheIndex(sqlite3* db) : db_(db) {}

CacheIndex::~CacheIndex() { sqlite3_close_v2(db_); }

Status CacheIndex::Exec(const char* sql) {
  const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? Status::Ok() : Error(db_, rc);
}

Result<std::unique_ptr<CacheIndex>> CacheIndex::Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status error = Error(db, rc);
    sqlite3_close_v2(db);
    return error;
  }
  std::unique_ptr<CacheIndex> index(new CacheIndex(db));
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  std::lock_guard lock(index->mu_);
  // Turning WAL on needs the database to itself for a moment; another process opening the
  // directory at the same moment may hold it, and SQLite does not always wait for that through
  // the busy handler: try again for as long as the busy timeout.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kBusyTimeoutMs);
  Status wal = index->Exec("PRAGMA journal_mode=WAL");
  while (!wal.ok() &&
         (sqlite3_errcode(db) == SQLITE_BUSY || sqlite3_errcode(db) == SQLITE_LOCKED) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    wal = index->Exec("PRAGMA journal_mode=WAL");
  }
  if (!wal.ok()) return wal;
  for (const char* pragma : {"PRAGMA synchronous=NORMAL", "PRAGMA cache_size=-2000"}) {
    if (Status s = index->Exec(pragma); !s.ok()) return s;
  }
  // IF NOT EXISTS inside one IMMEDIATE transaction: a second process creating the schema at
  // the same time waits for the first and then finds every table there.
  if (Status s = index->Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  if (Status s = index->Exec(kSchema); !s.ok()) {
    (void)index->Exec("ROLLBACK");
    return s;
  }
  if (Status s = index->Exec("COMMIT"); !s.ok()) {
    (void)index->Exec("ROLLBACK");
    return s;
  }
  return index;
}

Result<std::unique_ptr<CacheIndex>> CacheIndex::OpenReadOnly(const std::string& path) {
  Status failure;
  for (const char* parameters : {"?mode=ro", "?mode=ro&immutable=1"}) {
    const std::string uri = "file:" + UriPathOf(path) + parameters;
    sqlite3* db = nullptr;
    const int rc = sqlite3_open_v2(
        uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      failure = Error(db, rc);
      sqlite3_close_v2(db);
      continue;
    }
    std::unique_ptr<CacheIndex> index(new CacheIndex(db));
    sqlite3_busy_timeout(db, kBusyTimeoutMs);
    // Opening is lazy: the first read finds whether the WAL's -shm can be had ("unable to open
    // database file" on a read-only mount, "attempt to write a readonly database" in a
    // directory of another user's).
    Result<uint64_t> total = index->Used();
    if (total.ok()) return index;
    failure = total.status();
  }
  return failure;
}

Result<Reservation> CacheIndex::Reserve(std::span<const BlockRow> rows, uint64_t limit,
                                        int64_t now_us, const RemoveFile& remove_file) {
  std::lock_guard lock(mu_);
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  auto fail = [this](Status status) -> Result<Reservation> {
    (void)Exec("ROLLBACK");
    return status;
  };

  Reservation reservation;
  reservation.existed.assign(rows.size(), false);
  reservation.refused.assign(rows.size(), false);
  Statement insert(db_, "INSERT OR IGNORE INTO blocks(file, idx, bytes, used) VALUES (?, ?, ?, ?)");
  Statement touch(db_, "UPDATE blocks SET used = max(used, ?3) WHERE file = ?1 AND idx = ?2");
  if (Status s = insert.status(); !s.ok()) return fail(s);
  if (Status s = touch.status(); !s.ok()) return fail(s);
  std::set<std::pair<std::string_view, uint64_t>> reserved;
  for (size_t i = 0; i < rows.size(); ++i) {
    const BlockRow& row = rows[i];
    const int64_t used = now_us + static_cast<int64_t>(i);
    reserved.emplace(row.name.file, row.name.index);
    insert.Bind(1, row.name.file).Bind(2, row.name.index).Bind(3, row.bytes).Bind(4, used);
    if (Status s = insert.Run(); !s.ok()) return fail(s);
    if (sqlite3_changes(db_) == 0) {
      reservation.existed[i] = true;
      touch.Bind(1, row.name.file).Bind(2, row.name.index).Bind(3, used);
      if (Status s = touch.Run(); !s.ok()) return fail(s);
    }
  }

  Result<uint64_t> total = ReadTotal(db_);
  if (!total.ok()) return fail(total.status());
  uint64_t used = *total;
  if (used > limit) {
    // The least recently used rows first, never the ones this batch reserved. Collected first
    // and deleted after: deleting under a running SELECT's cursor is not defined to visit the
    // rest.
    Statement oldest(db_, "SELECT file, idx, bytes FROM blocks ORDER BY used");
    if (Status s = oldest.status(); !s.ok()) return fail(s);
    int rc = SQLITE_ROW;
    while (used > limit && (rc = oldest.Step()) == SQLITE_ROW) {
      BlockRow victim{{oldest.Text(0), Unsigned(oldest.Int(1))}, Unsigned(oldest.Int(2))};
      if (reserved.count({victim.name.file, victim.name.index}) != 0) continue;
      used -= std::min(used, victim.bytes);
      reservation.evicted.push_back(std::move(victim));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return fail(Error(db_, rc));
    oldest.Reset();
    Statement remove(db_, "DELETE FROM blocks WHERE file = ? AND idx = ?");
    if (Status s = remove.status(); !s.ok()) return fail(s);
    for (const BlockRow& victim : reservation.evicted) {
      remove.Bind(1, victim.name.file).Bind(2, victim.name.index);
      if (Status s = remove.Run(); !s.ok()) return fail(s);
      if (remove_file) remove_file(victim.name);
    }
    // Still above: the batch itself does not fit. Its new rows go, last first.
    for (size_t i = rows.size(); i-- > 0 && used > limit;) {
      if (reservation.existed[i]) continue;
      remove.Bind(1, rows[i].name.file).Bind(2, rows[i].name.index);
      if (Status s = remove.Run(); !s.ok()) return fail(s);
      reservation.refused[i] = true;
      used -= std::min(used, rows[i].bytes);
    }
    total = ReadTotal(db_);
    if (!total.ok()) return fail(total.status());
  }
  reservation.used = *total;
  if (Status s = Exec("COMMIT"); !s.ok()) return fail(s);
  return reservation;
}

Status CacheIndex::Release(std::span<const BlockName> names) {
  if (names.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  Statement remove(db_, "DELETE FROM blocks WHERE file = ? AND idx = ?");
  Status status = remove.status();
  for (size_t i = 0; status.ok() && i < names.size(); ++i) {
    remove.Bind(1, names[i].file).Bind(2, names[i].index);
    status = remove.Run();
  }
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok()) (void)Exec("ROLLBACK");
  return status;
}

Result<std::vector<BlockName>> CacheIndex::Missing(std::span<const BlockName> names) {
  std::vector<BlockName> missing;
  if (names.empty()) return missing;
  std::lock_guard lock(mu_);
  Statement find(db_, "SELECT 1 FROM blocks WHERE file = ? AND idx = ?");
  if (Status s = find.status(); !s.ok()) return s;
  for (const BlockName& name : names) {
    find.Bind(1, name.file).Bind(2, name.index);
    const int rc = find.Step();
    find.Reset();
    if (rc == SQLITE_DONE) {
      missing.push_back(name);
    } else if (rc != SQLITE_ROW) {
      return Error(db_, rc);
    }
  }
  return missing;
}

Status CacheIndex::Touch(std::span<const std::pair<BlockName, int64_t>> uses) {
  if (uses.empty()) return Status::Ok();
  std::lock_guard lock(mu_);
  if (Status s = Exec("BEGIN IMMEDIATE"); !s.ok()) return s;
  Statement touch(db_, "UPDATE blocks SET used = max(used, ?3) WHERE file = ?1 AND idx = ?2");
  Status status = touch.status();
  for (size_t i = 0; status.ok() && i < uses.size(); ++i) {
    touch.Bind(1, uses[i].first.file).Bind(2, uses[i].first.index).Bind(3, uses[i].second);
    status = touch.Run();
  }
  if (status.ok()) status = Exec("COMMIT");
  if (!status.ok()) (void)Exec("ROLLBACK");
  return status;
}

Result<CacheIndex::FileUsage> CacheIndex::UsageOf(std::string_view file) {
  std::lock_guard lock(mu_);
  Statement sum(db_, "SELECT coalesce(sum(bytes), 0), count(*) FROM blocks WHERE file = ?");
  if (Status s = sum.status(); !s.ok()) return s;
  sum.Bind(1, file);
  const int rc = sum.Step();
  if (rc != SQLITE_ROW) return Error(db_, rc);
  return FileUsage{Unsigned(sum.Int(0)), Unsigned(sum.Int(1))};
}

Result<uint64_t> CacheIndex::Used() {
  std::lock_guard lock(mu_);
  return ReadTotal(db_);
}

}  // namespace rangefs::disk
