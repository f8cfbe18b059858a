// `rangefs warm`: fills the disk cache (--cache-dir) with every block of the given files that
// it lacks, so that later mounts read them without range requests. One file after another,
// each with --connections requests at once; blocks already cached are skipped, so a warm that
// was interrupted resumes. Progress on stderr (cli/progress_text.h).
//
// Exit status: 0 when every file is completely cached; 1 when one or more failed (one line
// each, naming the redacted URL and why) or the cache cannot be opened; 2 on usage errors;
// 128 + the signal (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP) when interrupted, with
// every block stored so far kept.
#pragma once

namespace rangefs {

// argv[0] is "warm"; the rest are warm's arguments (see --help). Runs on the calling thread;
// blocks SIGINT, SIGTERM and SIGHUP in it (and so in every thread it starts) to receive them
// on a thread of its own. REQUIRES: no other thread runs yet.
int RunWarm(int argc, char** argv);

}  // namespace rangefs
