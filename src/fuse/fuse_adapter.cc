#include "fuse/fuse_adapter.h"

#include <fcntl.h>
#include <fuse3/fuse_lowlevel.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "cli/mount_options.h"
#include "fuse/errno_map.h"
#include "fuse/fuse_session.h"
#include "fuse/inode_table.h"
#include "fuse/kernel_notifier.h"
#include "fuse/kernel_readahead.h"
#include "fuse/open_handles.h"

namespace rangefs {
namespace {

// st_blocks counts 512-byte units whatever the block size (stat(2)).
constexpr uint64_t kStatBlockBytes = 512;
// Reported as st_blksize: tools like cp size their reads by it, and big reads mean fewer
// requests. 1 MiB is the largest read the kernel sends a FUSE filesystem.
constexpr blksize_t kPreferredIoBytes = 1 << 20;
constexpr unsigned kMaxKernelReadBytes = 1 << 20;

struct Served {
  Filesystem& filesystem;
  InodeTable inodes;
  // Names and attributes stay valid as long as a version stays trusted (--revalidate): after
  // that the kernel asks again, and a lookup confirms the version with the server.
  const double attribute_timeout_seconds;
  OpenHandles<FileReader> handles;
  OpenHandles<OpenedDirectory> directories;
};

Served& ServedOf(fuse_req_t req) { return *static_cast<Served*>(fuse_req_userdata(req)); }

Filesystem& FilesystemOf(fuse_req_t req) { return ServedOf(req).filesystem; }

// The node an inode number stands for; null (after replying ENOENT) for a number this session
// never dealt out or has forgotten.
std::optional<Node> NodeOf(fuse_req_t req, fuse_ino_t ino) {
  std::optional<Node> node = ServedOf(req).inodes.Find(ino);
  if (!node) fuse_reply_err(req, ENOENT);
  return node;
}

struct stat ToStat(const Attributes& attributes, uint64_t inode) {
  struct stat st {};
  st.st_ino = inode;
  st.st_mode = attributes.is_directory ? (S_IFDIR | 0555) : (S_IFREG | 0444);
  st.st_nlink = attributes.is_directory ? 2 : 1;
  st.st_uid = getuid();
  st.st_gid = getgid();
  st.st_size = static_cast<off_t>(attributes.size);
  st.st_blksize = kPreferredIoBytes;
  st.st_blocks = static_cast<blkcnt_t>((attributes.size + kStatBlockBytes - 1) / kStatBlockBytes);
  st.st_mtim.tv_sec = attributes.mtime;
  st.st_ctim.tv_sec = attributes.mtime;
  st.st_atim.tv_sec = attributes.mtime;
  return st;
}

// Every callback runs its body through here: a stray exception becomes an errno reply, so the
// kernel always gets exactly one answer and the daemon never dies in a callback.
template <typename Body>
void Guarded(fuse_req_t req, Body&& body) {
  try {
    body();
  } catch (const std::bad_alloc&) {
    fuse_reply_err(req, ENOMEM);
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    fuse_reply_err(req, EIO);
  } catch (...) {
    spdlog::error("internal error: unknown exception");
    fuse_reply_err(req, EIO);
  }
}

void OnInit(void*, fuse_conn_info* conn) {
  // Reads may run in parallel on one handle; the multithreaded loop serves them concurrently.
  conn->want |= conn->capable & FUSE_CAP_ASYNC_READ;
  // Ask for the largest kernel readahead the kernel allows (it only ever lowers this): fewer,
  // larger reads mean fewer round trips through the kernel per megabyte.
  conn->max_readahead = kMaxKernelReadBytes;
  // Every readdir as readdirplus, not only the first call of a listing (the kernel's "auto"):
  // entries with exact sizes then need no lookup at all, and `ls -l` of a 10,000-entry
  // directory makes no round trip through the kernel per entry.
  conn->want &= ~static_cast<unsigned>(FUSE_CAP_READDIRPLUS_AUTO);
}

void OnLookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  Guarded(req, [&] {
    const std::optional<Node> directory = NodeOf(req, parent);
    if (!directory) return;
    Result<Attributes> attributes = FilesystemOf(req).Lookup(*directory, name);
    if (!attributes.ok()) return (void)fuse_reply_err(req, ErrnoFor(attributes.status().code()));
    InodeTable& inodes = ServedOf(req).inodes;
    fuse_entry_param entry{};
    entry.ino = inodes.Reference(attributes->node);
    // Numbers are never reused within a session, so the generation need not tell them apart.
    entry.generation = 0;
    entry.attr = ToStat(*attributes, entry.ino);
    entry.attr_timeout = ServedOf(req).attribute_timeout_seconds;
    entry.entry_timeout = ServedOf(req).attribute_timeout_seconds;
    // Not delivered (the caller was interrupted): the kernel holds no reference to forget.
    if (fuse_reply_entry(req, &entry) != 0) inodes.Forget(entry.ino, 1);
  });
}

void OnGetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info*) {
  Guarded(req, [&] {
    const std::optional<Node> node = NodeOf(req, ino);
    if (!node) return;
    Result<Attributes> attributes = FilesystemOf(req).GetAttributes(*node);
    if (!attributes.ok()) return (void)fuse_reply_err(req, ErrnoFor(attributes.status().code()));
    const struct stat st = ToStat(*attributes, ino);
    fuse_reply_attr(req, &st, ServedOf(req).attribute_timeout_seconds);
  });
}

void OnOpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Guarded(req, [&] {
    const std::optional<Node> node = NodeOf(req, ino);
    if (!node) return;
    Result<OpenedDirectory> opened = FilesystemOf(req).OpenDirectory(*node);
    if (!opened.ok()) return (void)fuse_reply_err(req, ErrnoFor(opened.status().code()));
    OpenHandles<OpenedDirectory>& directories = ServedOf(req).directories;
    fi->fh = directories.Add(std::make_unique<OpenedDirectory>(std::move(opened).value()));
    // Not delivered (the caller was interrupted): no releasedir will follow.
    if (fuse_reply_open(req, fi) != 0) directories.Remove(fi->fh);
  });
}

// Both readdir and readdirplus: entries from `offset` on, as many as fit in `size` bytes. The
// offset handed back for an entry is the index of the one after it in the listing opendir
// pinned, so offsets stay valid however the remote directory changes meanwhile.
void ReplyDirectory(fuse_req_t req, size_t size, off_t offset, fuse_file_info* fi, bool plus) {
  if (offset < 0) return (void)fuse_reply_err(req, EINVAL);
  const OpenedDirectory& directory = OpenHandles<OpenedDirectory>::Get(fi);
  Filesystem& filesystem = FilesystemOf(req);
  InodeTable& inodes = ServedOf(req).inodes;
  const double timeout = ServedOf(req).attribute_timeout_seconds;
  std::string buffer(size, '\0');
  size_t used = 0;
  // References counted for readdirplus entries, taken back if the reply goes astray.
  std::vector<uint64_t> referenced;
  for (size_t i = static_cast<size_t>(offset); i < directory.size(); ++i) {
    const DirectoryEntry entry = filesystem.EntryAt(directory, i);
    const off_t next = static_cast<off_t>(i + 1);
    char* const at = buffer.data() + used;
    size_t needed = 0;
    if (!plus) {
      const struct stat st = ToStat(entry.attributes, inodes.NumberOf(entry.attributes.node));
      needed = fuse_add_direntry(req, at, size - used, entry.name.c_str(), &st, next);
    } else {
      // "." and ".." are never looked up by the kernel, and a file whose size needs a probe is
      // left for a lookup (an inode of 0 tells the kernel there are no attributes here).
      const bool link = entry.attributes_known && i >= 2;
      fuse_entry_param param{};
      param.ino =
          link ? inodes.Reference(entry.attributes.node) : inodes.NumberOf(entry.attributes.node);
      param.attr = ToStat(entry.attributes, param.ino);
      if (!link) param.ino = 0;
      param.attr_timeout = timeout;
      param.entry_timeout = timeout;
      needed = fuse_add_direntry_plus(req, at, size - used, entry.name.c_str(), &param, next);
      if (link && needed > size - used) inodes.Forget(param.ino, 1);
      if (link && needed <= size - used) referenced.push_back(param.ino);
    }
    if (needed > size - used) break;
    used += needed;
  }
  if (fuse_reply_buf(req, buffer.data(), used) != 0) {
    for (const uint64_t inode : referenced) inodes.Forget(inode, 1);
  }
}

void OnReadDir(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  Guarded(req, [&] { ReplyDirectory(req, size, offset, fi, false); });
}

void OnReadDirPlus(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  Guarded(req, [&] { ReplyDirectory(req, size, offset, fi, true); });
}

void OnReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Guarded(req, [&] {
    ServedOf(req).directories.Remove(fi->fh);
    fuse_reply_err(req, 0);
  });
}

void OnOpen(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  Guarded(req, [&] {
    if ((fi->flags & O_ACCMODE) != O_RDONLY) return (void)fuse_reply_err(req, EROFS);
    const std::optional<Node> node = NodeOf(req, ino);
    if (!node) return;
    Result<OpenedFile> opened = FilesystemOf(req).Open(*node);
    if (!opened.ok()) return (void)fuse_reply_err(req, ErrnoFor(opened.status().code()));
    OpenHandles<FileReader>& handles = ServedOf(req).handles;
    fi->fh = handles.Add(std::move(opened->reader));
    fi->keep_cache = opened->keep_cache ? 1 : 0;
    // Not delivered (the opener was interrupted): no release will follow.
    if (fuse_reply_open(req, fi) != 0) handles.Remove(fi->fh);
  });
}

void OnRead(fuse_req_t req, fuse_ino_t, size_t size, off_t offset, fuse_file_info* fi) {
  Guarded(req, [&] {
    if (offset < 0) return (void)fuse_reply_err(req, EINVAL);
    Result<ReadBuffer> read =
        OpenHandles<FileReader>::Get(fi).Read(static_cast<uint64_t>(offset), size);
    if (!read.ok()) return (void)fuse_reply_err(req, ErrnoFor(read.status().code()));
    // Straight from the cached blocks (pinned by `read` until the reply is written): no copy
    // into an intermediate buffer.
    std::vector<iovec> iov;
    iov.reserve(read->slices().size());
    for (const std::span<const std::byte>& slice : read->slices()) {
      iov.push_back({const_cast<std::byte*>(slice.data()), slice.size()});
    }
    fuse_reply_iov(req, iov.data(), static_cast<int>(iov.size()));
  });
}

// The kernel drops references it holds to inodes (counted by entry replies): the table forgets
// a number when none is left. No reply but fuse_reply_none.
void OnForget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Guarded(req, [&] {
    ServedOf(req).inodes.Forget(ino, nlookup);
    fuse_reply_none(req);
  });
}

void OnForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  Guarded(req, [&] {
    InodeTable& inodes = ServedOf(req).inodes;
    for (size_t i = 0; i < count; ++i) inodes.Forget(forgets[i].ino, forgets[i].nlookup);
    fuse_reply_none(req);
  });
}

void OnRelease(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Guarded(req, [&] {
    ServedOf(req).handles.Remove(fi->fh);
    fuse_reply_err(req, 0);
  });
}

// The getxattr/listxattr size protocol (getxattr(2)): size 0 asks how long the value is; a
// buffer too small for it is ERANGE.
void ReplyAttributeData(fuse_req_t req, std::string_view data, size_t size) {
  if (size == 0) {
    fuse_reply_xattr(req, data.size());
  } else if (size < data.size()) {
    fuse_reply_err(req, ERANGE);
  } else {
    fuse_reply_buf(req, data.data(), data.size());
  }
}

void OnGetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  Guarded(req, [&] {
    const std::optional<Node> node = NodeOf(req, ino);
    if (!node) return;
    Result<std::string> value = FilesystemOf(req).ExtendedAttributeValue(*node, name);
    if (!value.ok()) return (void)fuse_reply_err(req, ErrnoFor(value.status().code()));
    ReplyAttributeData(req, *value, size);
  });
}

void OnListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  Guarded(req, [&] {
    const std::optional<Node> node = NodeOf(req, ino);
    if (!node) return;
    Result<std::vector<ExtendedAttribute>> attributes = FilesystemOf(req).ExtendedAttributes(*node);
    if (!attributes.ok()) return (void)fuse_reply_err(req, ErrnoFor(attributes.status().code()));
    // Each name ends with a NUL (listxattr(2)).
    std::string names;
    for (const ExtendedAttribute& attribute : *attributes) {
      names += attribute.name;
      names += '\0';
    }
    ReplyAttributeData(req, names, size);
  });
}

// Nothing in a read-only filesystem can be changed, its attributes included. (The kernel
// refuses these on the "ro" mount before asking; this answers the same if it ever asks.)
void OnSetXattr(fuse_req_t req, fuse_ino_t, const char*, const char*, size_t, int) {
  fuse_reply_err(req, EROFS);
}

void OnRemoveXattr(fuse_req_t req, fuse_ino_t, const char*) { fuse_reply_err(req, EROFS); }

constexpr fuse_lowlevel_ops MakeOperations() {
  fuse_lowlevel_ops ops{};
  ops.init = OnInit;
  ops.lookup = OnLookup;
  ops.forget = OnForget;
  ops.forget_multi = OnForgetMulti;
  ops.getattr = OnGetAttr;
  ops.opendir = OnOpenDir;
  ops.readdir = OnReadDir;
  ops.readdirplus = OnReadDirPlus;
  ops.releasedir = OnReleaseDir;
  ops.open = OnOpen;
  ops.read = OnRead;
  ops.release = OnRelease;
  ops.getxattr = OnGetXattr;
  ops.listxattr = OnListXattr;
  ops.setxattr = OnSetXattr;
  ops.removexattr = OnRemoveXattr;
  return ops;
}
constexpr fuse_lowlevel_ops kOperations = MakeOperations();

}  // namespace

int ServeFuse(Filesystem& filesystem, const FuseConfig& config,
              const std::function<void()>& on_mounted, const std::function<void()>& on_stopping) {
  // fsname and subtype make the mount show up as "SOURCE ... fuse.rangefs" in /proc/mounts;
  // default_permissions lets the kernel enforce the 0444/0555 modes.
  std::vector<std::string> args = {
      "rangefs", "-o",
      "ro,default_permissions,fsname=" + EscapeFuseOptionValue(config.source) + ",subtype=rangefs"};
  for (const std::string& option : config.mount_options) {
    args.push_back("-o");
    args.push_back(option);
  }
  if (config.fuse_debug) args.push_back("-d");

  Served served{.filesystem = filesystem,
                .inodes = {},
                .attribute_timeout_seconds = config.attribute_timeout_seconds,
                .handles = {},
                .directories = {}};
  const std::unique_ptr<FuseSession> session =
      FuseSession::Mount(args, kOperations, &served, config.mountpoint);
  if (!session) return 1;
  if (!RaiseKernelReadahead(config.mountpoint, kMaxKernelReadBytes / 1024)) {
    spdlog::debug("kernel readahead stays at its default (read_ahead_kb not writable)");
  }
  if (!session->Daemonize(config.foreground)) return 1;
  on_mounted();
  spdlog::info("mounted at {}", config.mountpoint);

  int exit_code = 0;
  {
    KernelNotifier notifier(session->get());
    filesystem.SetVersionListener(
        [&notifier, &served](const Node& parent, const std::string& name) {
          // A directory the kernel does not know has no names to forget.
          if (const std::optional<uint64_t> inode = served.inodes.Existing(parent)) {
            notifier.ForgetName(*inode, name);
          }
        });
    // A reader may be waiting for a server that is gone, and the loop waits for it. When a
    // signal ends the session, make such readers give up, so that SIGTERM unmounts at once;
    // likewise the probes and listings that lookups and the work ahead are blocked in.
    exit_code = session->Serve([&filesystem, &on_stopping] {
      spdlog::info("stopping: reads still waiting for a server give up");
      filesystem.RequestStop();
      if (on_stopping) on_stopping();
    });
    // The loop has joined its workers, and with the work ahead stopped nobody calls the
    // listener any more.
    filesystem.StopBackgroundWork();
    filesystem.SetVersionListener(nullptr);
  }

  session->Unmount();
  spdlog::info("unmounted {}", config.mountpoint);
  return exit_code;
}

}  // namespace rangefs
