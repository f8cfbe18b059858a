// Owning handles for libfuse's C objects, so every exit path frees them: the arguments, the
// session and the loop configuration. Used by FuseSession (fuse_session.h), which both rangefs
// and the benchmark's memory-backed filesystem serve through.
#pragma once

#include <fuse3/fuse_lowlevel.h>

#include <memory>

namespace rangefs {

struct FuseArgsDeleter {
  void operator()(fuse_args* args) const { fuse_opt_free_args(args); }
};
struct SessionDeleter {
  void operator()(fuse_session* session) const { fuse_session_destroy(session); }
};
struct LoopConfigDeleter {
  void operator()(fuse_loop_config* config) const { fuse_loop_cfg_destroy(config); }
};

}  // namespace rangefs
