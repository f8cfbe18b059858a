#include "rangefs/filesystem.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "fakes/manual_scheduler.h"
#include "fakes/memory_block_store.h"
#include "fakes/memory_range_source.h"
#include "fakes/printers.h"
#include "rangefs/metrics_collection.h"
#include "rangefs/retrying_range_source.h"

namespace rangefs {
namespace {

using fakes::FetchCall;
using fakes::MemoryRangeSource;

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kBlock = 64 << 10;
constexpr std::time_t kMountTime = 1'700'000'000;
constexpr std::time_t kLastModified = 1'600'000'000;
// Versions found at mount time stay trusted: no test probes unless it asks to.
constexpr std::chrono::milliseconds kRevalidateNever = std::chrono::hours(24 * 365);

// Attributes has no operator==; compare (and print) it as a tuple.
auto Fields(const Attributes& a) {
  return std::make_tuple(a.node.file.get(), a.node.generation, a.is_directory, a.size, a.mtime);
}

std::vector<std::byte> Flatten(const ReadBuffer& buffer) {
  std::vector<std::byte> bytes(buffer.size());
  buffer.CopyTo(bytes);
  return bytes;
}

std::string Text(const ReadBuffer& buffer) {
  std::string text;
  for (std::byte b : Flatten(buffer)) text.push_back(static_cast<char>(b));
  return text;
}

std::vector<std::string> Names(const std::vector<DirectoryEntry>& entries) {
  std::vector<std::string> names;
  for (const DirectoryEntry& entry : entries) names.push_back(entry.name);
  return names;
}

class FilesystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RemoteFileInfo big = source_.AddSyntheticFile("https://h/big.iso", 5 * kGiB, 1);
    big.last_modified = kLastModified;
    RemoteFileInfo text = source_.AddFile("https://h/hello.txt", "hello, world");
    RemoteFileInfo empty = source_.AddSyntheticFile("https://h/empty", 0, 2);
    // Deliberately not in alphabetical order: the directory lists mount order.
    files_ = {{"zz-big.iso", big}, {"hello.txt", text}, {"empty", empty}};
    fs_ = std::make_unique<Filesystem>(source_, clock_, files_, kMountTime, Options(),
                                       kRevalidateNever);
  }

  // Small numbers, so that readahead shows after a few reads: 64 KiB blocks, windows of 4 and 16
  // blocks, requests of at most 8 blocks over 2 connections.
  static ReadOptions Options() {
    ReadOptions options;
    options.block_size = kBlock;
    options.cache_size = 16 << 20;
    options.readahead = ReadaheadConfig{.initial_window = 4 * kBlock,
                                        .max_window = 16 * kBlock,
                                        .reorder_slack = 4 * kBlock,
                                        .max_streams = 4};
    options.connections = 2;
    options.max_request_bytes = 8 * kBlock;
    // Tests that want the first open's head-and-tail fetch turn it on themselves.
    options.open_prefetch = false;
    return options;
  }

  // Opens `name`, or fails the test.
  std::unique_ptr<FileReader> OpenReader(const std::string& name) {
    Result<OpenedFile> opened = fs_->Open(NodeOf(name));
    EXPECT_TRUE(opened.ok()) << name << ": " << opened.status().ToString();
    if (!opened.ok()) return nullptr;
    return std::move(opened->reader);
  }

  Node NodeOf(const std::string& name) {
    Result<Attributes> attributes = fs_->Lookup(Filesystem::Root(), name);
    EXPECT_TRUE(attributes.ok()) << name << ": " << attributes.status().ToString();
    return attributes.ok() ? attributes->node : Node();
  }

  MemoryRangeSource source_;
  fakes::ManualScheduler clock_;
  std::vector<NamedFile> files_;
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(FilesystemTest, RootIsADirectory) {
  Result<Attributes> root = fs_->GetAttributes(Filesystem::Root());
  ASSERT_TRUE(root.ok()) << root.status().ToString();
  EXPECT_EQ(root->node, Filesystem::Root());
  EXPECT_TRUE(root->is_directory);
  EXPECT_EQ(root->mtime, kMountTime);
}

TEST_F(FilesystemTest, LookupGivesEachFileItsProbedAttributes) {
  std::set<const MountedFile*> files;
  for (const NamedFile& file : files_) {
    SCOPED_TRACE(file.name);
    Result<Attributes> attributes = fs_->Lookup(Filesystem::Root(), file.name);
    ASSERT_TRUE(attributes.ok()) << attributes.status().ToString();
    EXPECT_NE(attributes->node, Filesystem::Root());
    EXPECT_FALSE(attributes->is_directory);
    EXPECT_EQ(attributes->size, file.info.size);
    EXPECT_EQ(attributes->mtime, file.info.last_modified.value_or(kMountTime));
    files.insert(attributes->node.file.get());
  }
  EXPECT_EQ(files.size(), files_.size()) << "nodes are not distinct";
}

TEST_F(FilesystemTest, MtimeIsLastModifiedElseMountTime) {
  Result<Attributes> big = fs_->Lookup(Filesystem::Root(), "zz-big.iso");
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->mtime, kLastModified);
  EXPECT_EQ(big->size, 5 * kGiB);
  Result<Attributes> text = fs_->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  EXPECT_EQ(text->mtime, kMountTime);
  EXPECT_EQ(text->size, 12u);
}

TEST_F(FilesystemTest, LookupIsStable) {
  const Node first = NodeOf("hello.txt");
  EXPECT_EQ(NodeOf("hello.txt"), first);
}

TEST_F(FilesystemTest, GetAttributesAgreesWithLookup) {
  for (const NamedFile& file : files_) {
    SCOPED_TRACE(file.name);
    Result<Attributes> looked_up = fs_->Lookup(Filesystem::Root(), file.name);
    ASSERT_TRUE(looked_up.ok()) << looked_up.status().ToString();
    Result<Attributes> got = fs_->GetAttributes(looked_up->node);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(Fields(*got), Fields(*looked_up));
  }
}

TEST_F(FilesystemTest, LookupOfUnknownNameIsNotFound) {
  for (const char* name : {"missing", "", "HELLO.TXT", "hello.tx", "hello.txt/", "big.iso"}) {
    SCOPED_TRACE(name);
    Result<Attributes> got = fs_->Lookup(Filesystem::Root(), name);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), ErrorCode::kNotFound);
  }
}

TEST_F(FilesystemTest, LookupInAFileIsNotADirectory) {
  const Node file = NodeOf("hello.txt");
  Result<Attributes> got = fs_->Lookup(file, "hello.txt");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kNotADirectory);
}

TEST_F(FilesystemTest, ReadDirectoryListsDotsThenFilesInMountOrder) {
  Result<std::vector<DirectoryEntry>> entries = fs_->ReadDirectory(Filesystem::Root());
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  EXPECT_EQ(Names(*entries),
            (std::vector<std::string>{".", "..", "zz-big.iso", "hello.txt", "empty"}));
  ASSERT_EQ(entries->size(), 5u);

  const DirectoryEntry& dot = (*entries)[0];
  EXPECT_EQ(dot.attributes.node, Filesystem::Root());
  EXPECT_TRUE(dot.attributes.is_directory);
  EXPECT_TRUE((*entries)[1].attributes.is_directory);

  for (size_t i = 2; i < entries->size(); ++i) {
    const DirectoryEntry& entry = (*entries)[i];
    SCOPED_TRACE(entry.name);
    Result<Attributes> looked_up = fs_->Lookup(Filesystem::Root(), entry.name);
    ASSERT_TRUE(looked_up.ok()) << looked_up.status().ToString();
    EXPECT_EQ(Fields(entry.attributes), Fields(*looked_up));
  }
}

TEST_F(FilesystemTest, ReadDirectoryOfAFileIsNotADirectory) {
  Result<std::vector<DirectoryEntry>> got = fs_->ReadDirectory(NodeOf("empty"));
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kNotADirectory);
}

TEST_F(FilesystemTest, OpenOfTheDirectoryIsADirectory) {
  Result<OpenedFile> got = fs_->Open(Filesystem::Root());
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), ErrorCode::kIsADirectory);
}

TEST_F(FilesystemTest, OpenMakesNoRequests) {
  Result<OpenedFile> got = fs_->Open(NodeOf("hello.txt"));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(source_.fetch_count(), 0u);
  EXPECT_EQ(source_.probe_count(), 0u);
}

TEST_F(FilesystemTest, OpenLetsTheKernelKeepItsCache) {
  // The version of a file cannot change under the mount yet: pages the kernel cached from an
  // earlier open are still right.
  for (const NamedFile& file : files_) {
    SCOPED_TRACE(file.name);
    Result<OpenedFile> opened = fs_->Open(NodeOf(file.name));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_TRUE(opened->keep_cache);
  }
}

TEST_F(FilesystemTest, OpenedReaderReadsThatFile) {
  for (const NamedFile& file : files_) {
    SCOPED_TRACE(file.name);
    Result<OpenedFile> opened = fs_->Open(NodeOf(file.name));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    ASSERT_NE(opened->reader, nullptr);
    const FileVersion& version = opened->reader->version();
    EXPECT_EQ(version.generation, NodeOf(file.name).generation);
    EXPECT_EQ(*version.key, FileKey::Of(file.info, kBlock));
    EXPECT_EQ(version.info.url, file.info.url);
    EXPECT_EQ(version.info.size, file.info.size);
    EXPECT_EQ(version.info.etag, file.info.etag);
  }
}

TEST_F(FilesystemTest, ReadThroughOpenedReader) {
  std::unique_ptr<FileReader> reader = OpenReader("hello.txt");
  ASSERT_NE(reader, nullptr);
  Result<ReadBuffer> read = reader->Read(7, 64);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(Text(*read), "world");
  // The file is smaller than a block: its one block is the whole file.
  EXPECT_EQ(
      source_.fetch_calls(),
      (std::vector<FetchCall>{{"https://h/hello.txt", ByteRange{0, 11}, FetchPriority::kDemand}}));
}

TEST_F(FilesystemTest, ReadAbove4GiBThroughOpenedReader) {
  std::unique_ptr<FileReader> reader = OpenReader("zz-big.iso");
  ASSERT_NE(reader, nullptr);
  const uint64_t offset = 4 * kGiB + 3;
  Result<ReadBuffer> read = reader->Read(offset, 4096);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  const ByteRange range{offset, offset + 4095};
  EXPECT_TRUE(Flatten(*read) == source_.Content("https://h/big.iso", range));
  EXPECT_EQ(
      source_.fetch_calls(),
      (std::vector<FetchCall>{{"https://h/big.iso", ByteRange{4 * kGiB, 4 * kGiB + kBlock - 1},
                               FetchPriority::kDemand}}));
}

TEST_F(FilesystemTest, ReadsOfTheEmptyFileMakeNoRequest) {
  std::unique_ptr<FileReader> reader = OpenReader("empty");
  ASSERT_NE(reader, nullptr);
  Result<ReadBuffer> read = reader->Read(0, 4096);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->size(), 0u);
  EXPECT_EQ(source_.fetch_count(), 0u);
}

TEST_F(FilesystemTest, ReaderFailuresKeepTheirCode) {
  std::unique_ptr<FileReader> reader = OpenReader("hello.txt");
  ASSERT_NE(reader, nullptr);
  source_.FailAllFetches(Status(ErrorCode::kRangeNotSupported, "HTTP 200 for a range"));
  Result<ReadBuffer> read = reader->Read(0, 4);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), ErrorCode::kRangeNotSupported);
  source_.ClearFailures();
  // Through a new handle: the failed one answers its next read of the block with the same
  // failure for a moment (ReadWaitLimits::failure_memory).
  reader = OpenReader("hello.txt");
  ASSERT_NE(reader, nullptr);
  Result<ReadBuffer> retried = reader->Read(0, 4);
  ASSERT_TRUE(retried.ok()) << retried.status().ToString();
  EXPECT_EQ(Text(*retried), "hell");
}

TEST_F(FilesystemTest, HandlesShareOneCache) {
  std::unique_ptr<FileReader> first = OpenReader("zz-big.iso");
  std::unique_ptr<FileReader> second = OpenReader("zz-big.iso");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(first->Read(100, 1000).ok());
  ASSERT_TRUE(second->Read(2000, 1000).ok());
  EXPECT_EQ(source_.fetch_count(FetchPriority::kDemand), 1u)
      << "the second handle reads the block the first cached";
  EXPECT_EQ(fs_->cache_stats().hits, 1u);

  // Another file's block 0 is another block.
  std::unique_ptr<FileReader> text = OpenReader("hello.txt");
  ASSERT_NE(text, nullptr);
  Result<ReadBuffer> read = text->Read(0, 5);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(Text(*read), "hello");
  EXPECT_EQ(source_.fetch_count(FetchPriority::kDemand), 2u);
}

TEST_F(FilesystemTest, HandlesOfOneFileShareReadahead) {
  std::unique_ptr<FileReader> first = OpenReader("zz-big.iso");
  std::unique_ptr<FileReader> second = OpenReader("zz-big.iso");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  // Two handles taking turns along one sequential stream, as two processes reading one file
  // in step (or the kernel spreading one reader over handles) would.
  ASSERT_TRUE(first->Read(0, kBlock).ok());
  EXPECT_EQ(source_.fetch_count(FetchPriority::kPrefetch), 0u);
  ASSERT_TRUE(second->Read(kBlock, kBlock).ok());
  EXPECT_EQ(source_.fetched_ranges(FetchPriority::kPrefetch),
            (std::vector<ByteRange>{{2 * kBlock, 4 * kBlock - 1}, {4 * kBlock, 6 * kBlock - 1}}))
      << "the second handle's read continues the stream the first one started";
  for (uint64_t index = 2; index < 6; ++index) {
    FileReader& reader = index % 2 == 0 ? *first : *second;
    ASSERT_TRUE(reader.Read(index * kBlock, kBlock).ok());
  }
  EXPECT_EQ(source_.fetch_count(FetchPriority::kDemand), 2u) << "readahead served both handles";
}

TEST_F(FilesystemTest, ReadaheadIsHeldToAQuarterOfTheCache) {
  ReadOptions options = Options();
  options.cache_size = 8 * kBlock;  // a quarter is 2 blocks
  options.readahead.initial_window = 4 * kBlock;
  Filesystem fs(source_, clock_, files_, kMountTime, options, kRevalidateNever);
  Result<Attributes> big = fs.Lookup(Filesystem::Root(), "zz-big.iso");
  ASSERT_TRUE(big.ok());
  Result<OpenedFile> opened = fs.Open(big->node);
  ASSERT_TRUE(opened.ok());
  for (uint64_t index = 0; index < 2; ++index) {
    ASSERT_TRUE(opened->reader->Read(index * kBlock, kBlock).ok());
  }
  EXPECT_EQ(source_.fetched_ranges(FetchPriority::kPrefetch),
            (std::vector<ByteRange>{{2 * kBlock, 3 * kBlock - 1}, {3 * kBlock, 4 * kBlock - 1}}));
}

// Revalidation and versions. The fixture's filesystem never revalidates; these make their own.
class FilesystemVersionTest : public FilesystemTest {
 protected:
  std::unique_ptr<Filesystem> MakeFilesystem(std::chrono::milliseconds revalidate_after) {
    auto fs = std::make_unique<Filesystem>(source_, clock_, files_, kMountTime, Options(),
                                           revalidate_after);
    fs->SetVersionListener([this](const Node& parent, const std::string& name) {
      EXPECT_TRUE(parent.is_root());
      changed_names_.push_back(name);
    });
    return fs;
  }
  // The remote's hello.txt gets new content of another size.
  void ChangeHello() { source_.AddFile("https://h/hello.txt", "hello, changed world"); }

  std::vector<std::string> changed_names_;
};

TEST_F(FilesystemVersionTest, TrustedVersionIsNotProbed) {
  std::unique_ptr<Filesystem> fs = MakeFilesystem(kRevalidateNever);
  Result<Attributes> hello = fs->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(hello.ok());
  ASSERT_TRUE(fs->Open(hello->node).ok());
  EXPECT_EQ(source_.probe_count(), 0u);
}

TEST_F(FilesystemVersionTest, AConfirmationIsTrustedForTheIntervalByTheSchedulersClock) {
  std::unique_ptr<Filesystem> fs = MakeFilesystem(std::chrono::seconds(10));
  ASSERT_TRUE(fs->Lookup(Filesystem::Root(), "hello.txt").ok());
  EXPECT_EQ(source_.probe_count(), 0u) << "the mount's probe is still fresh";
  clock_.AdvanceBy(std::chrono::milliseconds(9999));
  ASSERT_TRUE(fs->Lookup(Filesystem::Root(), "hello.txt").ok());
  EXPECT_EQ(source_.probe_count(), 0u);
  clock_.AdvanceBy(std::chrono::milliseconds(1));
  ASSERT_TRUE(fs->Lookup(Filesystem::Root(), "hello.txt").ok());
  EXPECT_EQ(source_.probe_count(), 1u) << "ten seconds old: asked again";
  clock_.AdvanceBy(std::chrono::seconds(5));
  ASSERT_TRUE(fs->Lookup(Filesystem::Root(), "hello.txt").ok());
  ASSERT_TRUE(fs->Open(fs->Lookup(Filesystem::Root(), "hello.txt")->node).ok());
  EXPECT_EQ(source_.probe_count(), 1u) << "confirmed five seconds ago";
  ChangeHello();
  clock_.AdvanceBy(std::chrono::seconds(5));
  Result<Attributes> changed = fs->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(source_.probe_count(), 2u);
  EXPECT_EQ(changed->size, 20u);
}

TEST_F(FilesystemVersionTest, ZeroIntervalProbesOnEveryLookupAndOpen) {
  std::unique_ptr<Filesystem> fs = MakeFilesystem(std::chrono::milliseconds(0));
  Result<Attributes> hello = fs->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(hello.ok());
  ASSERT_TRUE(fs->Open(hello->node).ok());
  ASSERT_TRUE(fs->Open(hello->node).ok());
  EXPECT_EQ(source_.probe_count(), 3u);
  Result<Attributes> again = fs->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->node, hello->node) << "an unchanged remote keeps its node";
  EXPECT_TRUE(changed_names_.empty());
}

TEST_F(FilesystemVersionTest, ChangedRemoteGetsANewNodeAndTheOldOneGoesStale) {
  std::unique_ptr<Filesystem> fs = MakeFilesystem(std::chrono::milliseconds(0));
  Result<Attributes> before = fs->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(before.ok());
  ChangeHello();
  Result<OpenedFile> stale = fs->Open(before->node);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.status().code(), ErrorCode::kStaleHandle) << "the kernel then looks it up again";
  EXPECT_EQ(changed_names_, (std::vector<std::string>{"hello.txt"}));

  Result<Attributes> after = fs->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->node, before->node);
  EXPECT_EQ(after->node.generation, before->node.generation + 1);
  EXPECT_EQ(after->size, 20u);
  Result<OpenedFile> opened = fs->Open(after->node);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  Result<ReadBuffer> read = opened->reader->Read(0, 100);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(Text(*read), "hello, changed world");

  // Nothing holds the old version: its node is stale.
  Result<Attributes> old_attributes = fs->GetAttributes(before->node);
  ASSERT_FALSE(old_attributes.ok());
  EXPECT_EQ(old_attributes.status().code(), ErrorCode::kStaleHandle);
  EXPECT_EQ(changed_names_.size(), 1u) << "one change, announced once";
}

TEST_F(FilesystemVersionTest, OpenHandleKeepsItsVersionAndNeverGetsTheNewOne) {
  std::unique_ptr<Filesystem> fs = MakeFilesystem(std::chrono::milliseconds(0));
  Result<Attributes> before = fs->Lookup(Filesystem::Root(), "zz-big.iso");
  ASSERT_TRUE(before.ok());
  Result<OpenedFile> old_handle = fs->Open(before->node);
  ASSERT_TRUE(old_handle.ok());
  ASSERT_TRUE(old_handle->reader->Read(0, 100).ok());
  EXPECT_EQ(fs->cache_stats().cached_blocks, 1u);

  source_.AddSyntheticFile("https://h/big.iso", 5 * kGiB, 99);  // same size, new ETag
  Result<Attributes> after = fs->Lookup(Filesystem::Root(), "zz-big.iso");
  ASSERT_TRUE(after.ok());
  EXPECT_NE(after->node, before->node);
  EXPECT_EQ(fs->cache_stats().cached_blocks, 0u) << "the old version's blocks were dropped";
  EXPECT_EQ(fs->cache_stats().retired, 1u);

  source_.ResetCounters();
  Result<ReadBuffer> old_read = old_handle->reader->Read(10 * kBlock, 100);
  ASSERT_FALSE(old_read.ok());
  EXPECT_EQ(old_read.status().code(), ErrorCode::kRemoteChanged);
  EXPECT_EQ(source_.fetch_count(), 0u) << "no request is made for a replaced version";
  // Its attributes stay those of its version while the handle lives.
  Result<Attributes> old_attributes = fs->GetAttributes(before->node);
  ASSERT_TRUE(old_attributes.ok());
  EXPECT_EQ(old_attributes->node, before->node);
}

TEST_F(FilesystemVersionTest, ReaderThatSeesAnotherVersionMakesTheFilesystemAdoptIt) {
  std::unique_ptr<Filesystem> fs = MakeFilesystem(kRevalidateNever);
  Result<Attributes> before = fs->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(before.ok());
  Result<OpenedFile> opened = fs->Open(before->node);
  ASSERT_TRUE(opened.ok());
  ChangeHello();
  Result<ReadBuffer> read = opened->reader->Read(0, 5);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), ErrorCode::kRemoteChanged);
  EXPECT_EQ(source_.probe_count(), 1u) << "the reader's evidence was checked with a probe";
  EXPECT_EQ(changed_names_, (std::vector<std::string>{"hello.txt"}));
  Result<Attributes> after = fs->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size, 20u) << "the next lookup sees the new version without a probe";
  EXPECT_EQ(source_.probe_count(), 1u);
}

TEST_F(FilesystemVersionTest, FailedProbeKeepsTheVersion) {
  std::unique_ptr<Filesystem> fs = MakeFilesystem(std::chrono::milliseconds(0));
  Result<Attributes> hello = fs->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(hello.ok());
  source_.FailNextProbes(1, Status(ErrorCode::kTransport, "connection refused"));
  Result<OpenedFile> opened = fs->Open(hello->node);
  ASSERT_TRUE(opened.ok()) << "reads still carry the validators, so the open may proceed";
  Result<ReadBuffer> read = opened->reader->Read(0, 100);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(Text(*read), "hello, world");
  EXPECT_TRUE(changed_names_.empty());
}

// Revalidation through the retrying source, as main builds it: a transient failure of the
// probe is retried like a read (within the deadline), where a failure would leave a change
// unseen (or, before the first probe, fail the lookup).
class FilesystemRevalidationRetryTest : public FilesystemVersionTest {
 protected:
  static constexpr RetryConfig kRetry{.max_retries = 3,
                                      .deadline = std::chrono::milliseconds(10'000),
                                      .base_delay = std::chrono::milliseconds(100),
                                      .max_delay = std::chrono::milliseconds(1'000)};
  static constexpr std::chrono::milliseconds kRevalidate{10'000};

  void SetUp() override {
    FilesystemVersionTest::SetUp();
    fs_.reset();
    retrying_ = std::make_unique<RetryingRangeSource>(source_, clock_, kRetry);
    fs_ = std::make_unique<Filesystem>(*retrying_, clock_, files_, kMountTime, Options(),
                                       kRevalidate);
    fs_->SetVersionListener(
        [this](const Node&, const std::string& name) { changed_names_.push_back(name); });
  }
  void TearDown() override { fs_.reset(); }

  // A lookup of hello.txt while the clock moves on through its backoffs.
  std::optional<fakes::Timed<Result<Attributes>>> LookUpHello() {
    return fakes::WhileTimePasses(clock_, std::chrono::milliseconds(10),
                                  [this] { return fs_->Lookup(Filesystem::Root(), "hello.txt"); });
  }

  std::unique_ptr<RetryingRangeSource> retrying_;
};

TEST_F(FilesystemRevalidationRetryTest, ATransientFailureOfTheProbeIsRetried) {
  for (const Status& failure :
       {Status(ErrorCode::kServerBusy, "HTTP 503"),
        Status(ErrorCode::kServerBusy, "HTTP 503").WithRetryAfter(std::chrono::seconds(1)),
        Status(ErrorCode::kServerBusy, "HTTP 429"),
        Status(ErrorCode::kTransport, "connection reset")}) {
    SCOPED_TRACE(failure.ToString());
    const size_t probes = source_.probe_count();
    clock_.AdvanceBy(kRevalidate);
    source_.FailNextProbes(1, failure);
    const auto looked_up = LookUpHello();
    ASSERT_TRUE(looked_up.has_value()) << "the lookup did not return";
    ASSERT_TRUE(looked_up->value.ok()) << looked_up->value.status().ToString();
    EXPECT_EQ(source_.probe_count(), probes + 2) << "asked again after the failure";
    EXPECT_LE(looked_up->elapsed, kRetry.deadline);
  }
  // And what the retry finds is adopted: a change is not left unseen.
  ChangeHello();
  clock_.AdvanceBy(kRevalidate);
  source_.FailNextProbes(1, Status(ErrorCode::kServerBusy, "HTTP 503"));
  const auto changed = LookUpHello();
  ASSERT_TRUE(changed.has_value());
  ASSERT_TRUE(changed->value.ok()) << changed->value.status().ToString();
  EXPECT_EQ(changed->value->size, 20u) << "the new version, seen through the retry";
  EXPECT_EQ(changed_names_, (std::vector<std::string>{"hello.txt"}));
}

TEST_F(FilesystemRevalidationRetryTest, AProbeThatKeepsFailingKeepsTheLastConfirmedVersion) {
  const Result<Attributes> before = fs_->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(before.ok());
  clock_.AdvanceBy(kRevalidate);
  source_.FailNextProbes(MemoryRangeSource::kForever, Status(ErrorCode::kTransport, "refused"));
  const auto looked_up = LookUpHello();
  ASSERT_TRUE(looked_up.has_value());
  ASSERT_TRUE(looked_up->value.ok()) << "the last confirmed version stays: stat works";
  EXPECT_EQ(looked_up->value->node, before->node);
  EXPECT_EQ(source_.probe_count(), 1u + kRetry.max_retries) << "retried, then given up";
  EXPECT_LE(looked_up->elapsed, kRetry.deadline) << "within the deadline (--timeout)";
  // Open and read go on with it; a probe that cannot pass is not retried at all.
  source_.FailNextProbes(MemoryRangeSource::kForever, Status(ErrorCode::kNotFound, "HTTP 404"));
  clock_.AdvanceBy(kRevalidate);
  const size_t probes = source_.probe_count();
  Result<OpenedFile> opened = fs_->Open(before->node);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(source_.probe_count(), probes + 1);
  Result<ReadBuffer> read = opened->reader->Read(0, 100);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(Text(*read), "hello, world");
  EXPECT_TRUE(changed_names_.empty());
}

TEST_F(FilesystemTest, FirstOpenOfAVersionFetchesItsHeadAndTailOnce) {
  ReadOptions options = Options();
  options.open_prefetch = true;
  options.open_prefetch_head = 1;
  options.open_prefetch_tail = 2 * kBlock;
  Filesystem fs(source_, clock_, files_, kMountTime, options, kRevalidateNever);
  Result<Attributes> big = fs.Lookup(Filesystem::Root(), "zz-big.iso");
  ASSERT_TRUE(big.ok());
  ASSERT_TRUE(fs.Open(big->node).ok());
  const uint64_t last = 5 * kGiB / kBlock - 1;
  EXPECT_EQ(source_.fetched_ranges(),
            (std::vector<ByteRange>{{0, kBlock - 1}, {(last - 1) * kBlock, 5 * kGiB - 1}}));
  source_.ResetCounters();
  Result<OpenedFile> second = fs.Open(big->node);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(source_.fetch_count(), 0u) << "only the first open of a version";
  // And what it fetched serves the reads that follow without requests.
  ASSERT_TRUE(second->reader->Read(5 * kGiB - 100, 100).ok());
  ASSERT_TRUE(second->reader->Read(0, 100).ok());
  EXPECT_EQ(source_.fetch_count(), 0u);
}

TEST(FilesystemEmptyTest, NoFiles) {
  MemoryRangeSource source;
  fakes::ManualScheduler clock;
  Filesystem fs(source, clock, {}, kMountTime, ReadOptions(), kRevalidateNever);
  Result<std::vector<DirectoryEntry>> entries = fs.ReadDirectory(Filesystem::Root());
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  EXPECT_EQ(Names(*entries), (std::vector<std::string>{".", ".."}));
  Result<Attributes> lookup = fs.Lookup(Filesystem::Root(), "x");
  ASSERT_FALSE(lookup.ok());
  EXPECT_EQ(lookup.status().code(), ErrorCode::kNotFound);
}

TEST_F(FilesystemTest, FilesAddedAfterMountAreLookedUpListedAndRead) {
  ASSERT_TRUE(
      fs_->AddFile({"later.txt", source_.AddFile("https://h/later.txt", "added later")}).ok());
  Result<std::vector<DirectoryEntry>> entries = fs_->ReadDirectory(Filesystem::Root());
  ASSERT_TRUE(entries.ok()) << entries.status().ToString();
  EXPECT_EQ(Names(*entries),
            (std::vector<std::string>{".", "..", "zz-big.iso", "hello.txt", "empty", "later.txt"}));
  std::unique_ptr<FileReader> reader = OpenReader("later.txt");
  ASSERT_NE(reader, nullptr);
  Result<ReadBuffer> read = reader->Read(0, 100);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(Text(*read), "added later");
}

TEST_F(FilesystemTest, AddFileRefusesATakenNameAndNamesThatAreNotFileNames) {
  const RemoteFileInfo info = source_.AddFile("https://h/other", "x");
  for (const char* name : {"hello.txt", "", ".", "..", "a/", "/a", "hello.txt/x"}) {
    SCOPED_TRACE(name);
    const Status added = fs_->AddFile({name, info});
    EXPECT_EQ(added.code(), ErrorCode::kInvalidArgument);
  }
  Result<Attributes> hello = fs_->Lookup(Filesystem::Root(), "hello.txt");
  ASSERT_TRUE(hello.ok());
  EXPECT_EQ(hello->size, 12u) << "the first file of that name stays";
}

TEST_F(FilesystemTest, TwoNamesForOneUrlShareItsCachedBlocks) {
  // Blocks are keyed by what the file is (URL and version), not by the name it is mounted as.
  ASSERT_TRUE(fs_->AddFile({"same.txt", files_[1].info}).ok());
  std::unique_ptr<FileReader> first = OpenReader("hello.txt");
  std::unique_ptr<FileReader> second = OpenReader("same.txt");
  ASSERT_NE(first, nullptr);
  ASSERT_NE(second, nullptr);
  ASSERT_TRUE(first->Read(0, 100).ok());
  source_.ResetCounters();
  Result<ReadBuffer> read = second->Read(0, 100);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(Text(*read), "hello, world");
  EXPECT_EQ(source_.fetch_count(), 0u);
}

TEST_F(FilesystemTest, ConcurrentUse) {
  constexpr int kThreads = 8;
  constexpr int kRounds = 20;
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      int& bad = failures[static_cast<size_t>(t)];
      for (int i = 0; i < kRounds; ++i) {
        Result<Attributes> attributes = fs_->Lookup(Filesystem::Root(), "hello.txt");
        if (!attributes.ok()) {
          ++bad;
          continue;
        }
        if (!fs_->ReadDirectory(Filesystem::Root()).ok()) ++bad;
        if (!fs_->GetAttributes(attributes->node).ok()) ++bad;
        Result<OpenedFile> opened = fs_->Open(attributes->node);
        if (!opened.ok()) {
          ++bad;
          continue;
        }
        Result<ReadBuffer> read = opened->reader->Read(0, 5);
        if (!read.ok() || Text(*read) != "hello") ++bad;
        // And a read of the big file, somewhere above 4 GiB.
        Result<Attributes> big = fs_->Lookup(Filesystem::Root(), "zz-big.iso");
        if (!big.ok()) {
          ++bad;
          continue;
        }
        Result<OpenedFile> big_file = fs_->Open(big->node);
        if (!big_file.ok()) {
          ++bad;
          continue;
        }
        const uint64_t offset = 4 * kGiB + static_cast<uint64_t>(t * kRounds + i) * 10000;
        Result<ReadBuffer> big_read = big_file->reader->Read(offset, 20000);
        if (!big_read.ok() ||
            Flatten(*big_read) != source_.Content("https://h/big.iso", {offset, offset + 19999})) {
          ++bad;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[static_cast<size_t>(t)], 0) << t;
  EXPECT_EQ(fs_->cache_stats().loading_blocks, 0u);
}

TEST_F(FilesystemTest, WithoutMetricsTheAttributesHaveNoCounters) {
  Result<std::vector<ExtendedAttribute>> attributes = fs_->ExtendedAttributes(NodeOf("zz-big.iso"));
  ASSERT_TRUE(attributes.ok());
  std::vector<std::string> names;
  for (const ExtendedAttribute& attribute : *attributes) names.push_back(attribute.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"user.rangefs.url", "user.rangefs.etag",
                                      "user.rangefs.last_modified", "user.rangefs.cached_bytes"}));
}

// Extended attributes: what a file is and what it cost, answered from memory.
class FilesystemAttributesTest : public FilesystemTest {
 protected:
  void SetUp() override {
    FilesystemTest::SetUp();
    RemoteFileInfo secret = source_.AddFile("https://alice:s3cret@h/secret.txt", "secret text");
    secret.etag.clear();  // as from a server that sends none
    files_.push_back({"secret.txt", secret});
    std::vector<std::string> urls;
    for (const NamedFile& file : files_) urls.push_back(file.info.url);
    metrics_ = std::make_unique<Metrics>(urls);
    fs_ = std::make_unique<Filesystem>(source_, clock_, files_, kMountTime, Options(),
                                       kRevalidateNever, metrics_.get());
  }

  std::vector<std::string> AttributeNames(const Node& node) {
    Result<std::vector<ExtendedAttribute>> attributes = fs_->ExtendedAttributes(node);
    EXPECT_TRUE(attributes.ok()) << attributes.status().ToString();
    std::vector<std::string> names;
    if (attributes.ok()) {
      for (const ExtendedAttribute& attribute : *attributes) names.push_back(attribute.name);
    }
    return names;
  }

  std::string Value(const Node& node, const std::string& name) {
    Result<std::string> value = fs_->ExtendedAttributeValue(node, name);
    EXPECT_TRUE(value.ok()) << name << ": " << value.status().ToString();
    return value.ok() ? *value : "";
  }

  std::unique_ptr<Metrics> metrics_;
};

TEST_F(FilesystemAttributesTest, EveryFileListsItsAttributesAndTheDirectoryNone) {
  // The synthetic files have an ETag and (big) a Last-Modified; hello.txt has an ETag only.
  EXPECT_EQ(AttributeNames(NodeOf("zz-big.iso")),
            (std::vector<std::string>{"user.rangefs.url", "user.rangefs.etag",
                                      "user.rangefs.last_modified", "user.rangefs.cached_bytes",
                                      "user.rangefs.requests", "user.rangefs.bytes_fetched",
                                      "user.rangefs.retries"}));
  EXPECT_TRUE(AttributeNames(Filesystem::Root()).empty());
  Result<std::string> none = fs_->ExtendedAttributeValue(Filesystem::Root(), "user.x");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), ErrorCode::kNoSuchAttribute);
}

TEST_F(FilesystemAttributesTest, ValuesDescribeTheVersionAndRedactTheUrl) {
  const Node big = NodeOf("zz-big.iso");
  EXPECT_EQ(Value(big, "user.rangefs.url"), "https://h/big.iso");
  EXPECT_EQ(Value(big, "user.rangefs.etag"), files_[0].info.etag);
  EXPECT_FALSE(files_[0].info.etag.empty());
  EXPECT_EQ(Value(big, "user.rangefs.last_modified"), "Sun, 13 Sep 2020 12:26:40 GMT");
  EXPECT_EQ(Value(NodeOf("secret.txt"), "user.rangefs.url"), "https://alice:***@h/secret.txt");
}

TEST_F(FilesystemAttributesTest, AbsentValidatorsAreAbsentAttributes) {
  // No Last-Modified: no attribute (getxattr answers ENODATA), rather than an empty value.
  const Node hello = NodeOf("hello.txt");
  Result<std::string> date = fs_->ExtendedAttributeValue(hello, "user.rangefs.last_modified");
  ASSERT_FALSE(date.ok());
  EXPECT_EQ(date.status().code(), ErrorCode::kNoSuchAttribute);
  const Node secret = NodeOf("secret.txt");
  Result<std::string> etag = fs_->ExtendedAttributeValue(secret, "user.rangefs.etag");
  ASSERT_FALSE(etag.ok());
  EXPECT_EQ(etag.status().code(), ErrorCode::kNoSuchAttribute);
  EXPECT_EQ(AttributeNames(secret),
            (std::vector<std::string>{"user.rangefs.url", "user.rangefs.cached_bytes",
                                      "user.rangefs.requests", "user.rangefs.bytes_fetched",
                                      "user.rangefs.retries"}));
  const std::vector<std::string> names = AttributeNames(hello);
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.rangefs.last_modified"), 0);
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.rangefs.etag"), 1);
  Result<std::string> other = fs_->ExtendedAttributeValue(hello, "user.rangefs.nope");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), ErrorCode::kNoSuchAttribute);
}

TEST_F(FilesystemAttributesTest, CountersFollowTheFilesTraffic) {
  const Node big = NodeOf("zz-big.iso");
  EXPECT_EQ(Value(big, "user.rangefs.cached_bytes"), "0");
  EXPECT_EQ(Value(big, "user.rangefs.requests"), "0");
  std::unique_ptr<FileReader> reader = OpenReader("zz-big.iso");
  ASSERT_TRUE(reader->Read(0, 100).ok());
  ASSERT_TRUE(reader->Read(3 * kBlock, 100).ok());
  EXPECT_EQ(Value(big, "user.rangefs.cached_bytes"), std::to_string(2 * kBlock));
  // The memory source makes no HTTP requests; what the HTTP source and the retry layer would
  // count shows under the file's URL, and only there.
  metrics_->CountRequest({.url = "https://h/big.iso",
                          .status = 206,
                          .body_bytes = 2 * kBlock,
                          .total = std::chrono::microseconds(10),
                          .first_byte = std::chrono::microseconds(5)});
  metrics_->CountRetry("https://h/big.iso");
  EXPECT_EQ(Value(big, "user.rangefs.requests"), "1");
  EXPECT_EQ(Value(big, "user.rangefs.bytes_fetched"), std::to_string(2 * kBlock));
  EXPECT_EQ(Value(big, "user.rangefs.retries"), "1");
  const Node hello = NodeOf("hello.txt");
  EXPECT_EQ(Value(hello, "user.rangefs.requests"), "0");
  EXPECT_EQ(Value(hello, "user.rangefs.cached_bytes"), "0");
}

TEST_F(FilesystemAttributesTest, WithADiskCacheItsBytesOfTheVersionAreAnAttribute) {
  fakes::MemoryBlockStore disk;
  fs_ = std::make_unique<Filesystem>(source_, clock_, files_, kMountTime, Options(),
                                     std::chrono::milliseconds(0), metrics_.get(),
                                     DirectoryOptions{}, &disk);
  const Node big = NodeOf("zz-big.iso");
  const std::vector<std::string> names = AttributeNames(big);
  EXPECT_EQ(std::count(names.begin(), names.end(), "user.rangefs.disk_cached_bytes"), 1);
  EXPECT_EQ(Value(big, "user.rangefs.disk_cached_bytes"), "0");
  std::unique_ptr<FileReader> reader = OpenReader("zz-big.iso");
  ASSERT_TRUE(reader->Read(0, 100).ok());
  ASSERT_TRUE(reader->Read(3 * kBlock, 100).ok());
  // Every block the source brought was offered (whole blocks: the file is a multiple of them),
  // and the memory store keeps them all.
  EXPECT_GE(disk.offers(), 2u);
  EXPECT_EQ(Value(big, "user.rangefs.disk_cached_bytes"), std::to_string(disk.offers() * kBlock));
}

TEST_F(FilesystemAttributesTest, ReadingAttributesMakesNoRequest) {
  for (const NamedFile& file : files_) {
    const Node node = NodeOf(file.name);
    for (const std::string& name : AttributeNames(node)) (void)Value(node, name);
  }
  EXPECT_EQ(source_.probe_count(), 0u);
  EXPECT_EQ(source_.fetch_count(), 0u);
}

TEST_F(FilesystemAttributesTest, HandlesReadsAndVersionChangesAreCounted) {
  fs_ = std::make_unique<Filesystem>(source_, clock_, files_, kMountTime, Options(),
                                     std::chrono::milliseconds(0), metrics_.get());
  const auto sample = [this](const std::string& name) {
    for (const MetricFamily& family : CollectMetricFamilies(*metrics_, fs_->cache_stats(), 1)) {
      if (family.name == name) return family.samples.at(0).value;
    }
    ADD_FAILURE() << name << " not collected";
    return -1.0;
  };
  const Node before = NodeOf("hello.txt");
  std::unique_ptr<FileReader> first = OpenReader("hello.txt");
  std::unique_ptr<FileReader> second = OpenReader("hello.txt");
  EXPECT_EQ(sample("rangefs_open_handles"), 2);
  ASSERT_TRUE(first->Read(0, 5).ok());
  ASSERT_TRUE(first->Read(100, 5).ok());  // past the end: a read of nothing
  EXPECT_EQ(sample("rangefs_reads_total"), 2);
  EXPECT_EQ(sample("rangefs_read_bytes_total"), 5);
  second.reset();
  EXPECT_EQ(sample("rangefs_open_handles"), 1);

  source_.AddFile("https://h/hello.txt", "hello, changed world");
  EXPECT_NE(NodeOf("hello.txt"), before);
  EXPECT_EQ(sample("rangefs_version_changes_total"), 1);
  // The old version's blocks were dropped, and its handle may not fetch: a read error.
  EXPECT_FALSE(first->Read(0, 5).ok());
  EXPECT_EQ(sample("rangefs_read_errors_total"), 1);
  // The old node still has its own version's attributes while a handle holds it.
  Result<std::string> old_size = fs_->ExtendedAttributeValue(before, "user.rangefs.cached_bytes");
  ASSERT_TRUE(old_size.ok()) << old_size.status().ToString();
  EXPECT_EQ(*old_size, "0") << "the replaced version's blocks were dropped";
  first.reset();
  EXPECT_EQ(sample("rangefs_open_handles"), 0);
  Result<std::vector<ExtendedAttribute>> gone = fs_->ExtendedAttributes(before);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), ErrorCode::kStaleHandle);
}

}  // namespace
}  // namespace rangefs
