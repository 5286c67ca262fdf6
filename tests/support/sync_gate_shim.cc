// An LD_PRELOAD shim for fault tests: holds every fsync/fdatasync of the process while a gate
// file exists, so a test can make the disk "slow" at a moment of its choosing without a timing
// guess (fiu can fail a call but cannot delay one).
//
//   YIWANG_SHIM_SYNC_GATE=/path/gate   while /path/gate exists, fsync and fdatasync wait (polling
//                                      every millisecond), then run for real.
//
// Built as a MODULE library (tests/CMakeLists.txt); never linked into anything.

#include <dlfcn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

namespace {

using SyncFn = int (*)(int);

void WaitWhileGated() {
  static const char* gate = getenv("YIWANG_SHIM_SYNC_GATE");
  if (gate == nullptr || *gate == '\0') return;
  struct stat st;
  const timespec one_ms{0, 1000000};
  while (::stat(gate, &st) == 0) nanosleep(&one_ms, nullptr);
}

}  // namespace

extern "C" {

int fdatasync(int fd) {
  static SyncFn real = reinterpret_cast<SyncFn>(dlsym(RTLD_NEXT, "fdatasync"));
  WaitWhileGated();
  return real(fd);
}

int fsync(int fd) {
  static SyncFn real = reinterpret_cast<SyncFn>(dlsym(RTLD_NEXT, "fsync"));
  WaitWhileGated();
  return real(fd);
}

}  // extern "C"
