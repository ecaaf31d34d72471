// rkvj_lazyfs: an LD_PRELOAD shim that journals, for files under
// $RKVJ_LAZYFS_DIR, every write (offset, length) and every completed fsync /
// fdatasync (file size), to $RKVJ_LAZYFS_JOURNAL. After the process is
// killed, harness/lazyfs.py replays the journal backwards to put each file
// back to what a power failure could leave: unsynced byte ranges zeroed and
// the file cut to its size at the last sync. So "kill -9 + lose unsynced
// writes" is emulated without dropping the kernel's page cache (what
// Jepsen's LazyFS does with FUSE, in a few dozen lines).
//
// Journal lines: "W <offset> <length> <path>" (written before the write)
// and "S <size> <path>" (written after the sync returned). Each line is one
// write(2) on an O_APPEND descriptor, so lines from many threads do not mix.
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace {

int journal_fd = -2;  // -2: not opened yet; -1: disabled
const char* dir = nullptr;
size_t dir_len = 0;

void Init() {
  if (journal_fd != -2) return;
  const char* j = getenv("RKVJ_LAZYFS_JOURNAL");
  dir = getenv("RKVJ_LAZYFS_DIR");
  if (j == nullptr || dir == nullptr) {
    journal_fd = -1;
    return;
  }
  dir_len = strlen(dir);
  journal_fd = static_cast<int>(
      syscall(SYS_open, j, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644));
}

// The path of `fd` if it lies under the watched directory.
bool WatchedPath(int fd, char* path, size_t size) {
  Init();
  if (journal_fd < 0) return false;
  char link[64];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, path, size - 1);
  if (n <= 0) return false;
  path[n] = '\0';
  return static_cast<size_t>(n) > dir_len && strncmp(path, dir, dir_len) == 0;
}

void Journal(char kind, long long a, long long b, const char* path) {
  char line[4200];
  int n = kind == 'W'
              ? snprintf(line, sizeof(line), "W %lld %lld %s\n", a, b, path)
              : snprintf(line, sizeof(line), "S %lld %s\n", a, path);
  if (n > 0 && n < static_cast<int>(sizeof(line))) {
    syscall(SYS_write, journal_fd, line, n);
  }
}

void BeforeWrite(int fd, long long offset, size_t len) {
  char path[4096];
  if (!WatchedPath(fd, path, sizeof(path))) return;
  if (offset < 0) {
    struct stat st;
    int flags = fcntl(fd, F_GETFL);
    if (flags >= 0 && (flags & O_APPEND) && fstat(fd, &st) == 0) {
      offset = st.st_size;
    } else {
      offset = lseek(fd, 0, SEEK_CUR);
    }
  }
  Journal('W', offset, static_cast<long long>(len), path);
}

void AfterSync(int fd) {
  char path[4096];
  struct stat st;
  if (WatchedPath(fd, path, sizeof(path)) && fstat(fd, &st) == 0) {
    Journal('S', st.st_size, 0, path);
  }
}

template <typename F>
F Next(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t n) {
  static auto real = Next<ssize_t (*)(int, const void*, size_t)>("write");
  BeforeWrite(fd, -1, n);
  return real(fd, buf, n);
}

ssize_t pwrite(int fd, const void* buf, size_t n, off_t off) {
  static auto real =
      Next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite");
  BeforeWrite(fd, off, n);
  return real(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void* buf, size_t n, off_t off) {
  static auto real =
      Next<ssize_t (*)(int, const void*, size_t, off_t)>("pwrite64");
  BeforeWrite(fd, off, n);
  return real(fd, buf, n, off);
}

int fsync(int fd) {
  static auto real = Next<int (*)(int)>("fsync");
  int rc = real(fd);
  if (rc == 0) AfterSync(fd);
  return rc;
}

int fdatasync(int fd) {
  static auto real = Next<int (*)(int)>("fdatasync");
  int rc = real(fd);
  if (rc == 0) AfterSync(fd);
  return rc;
}

}  // extern "C"
