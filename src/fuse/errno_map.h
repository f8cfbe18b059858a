// The errno the kernel gets for each ErrorCode: the one place where rangefs's errors become
// what a reader's system call returns.
//
// Thread-safety: a pure function.
#pragma once

#include "rangefs/status.h"

namespace rangefs {

// 0 for kOk; EIO for every failure to get the bytes (the server's, the network's, a file that
// changed under an open handle), since that is what read(2) may return for them.
int ErrnoFor(ErrorCode code);

}  // namespace rangefs
