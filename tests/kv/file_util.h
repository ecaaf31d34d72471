// Files for the kv tests that read and write whole databases: a scratch
// directory removed at scope exit, and whole-file reads and writes.
#ifndef RAFTKV_TESTS_KV_FILE_UTIL_H_
#define RAFTKV_TESTS_KV_FILE_UTIL_H_

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace raftkv::kv::testing {

// A new directory under $TMPDIR, named after `prefix`, removed with
// everything in it when the object goes.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "kv_test") {
    std::string templ =
        (std::filesystem::temp_directory_path() / (prefix + ".XXXXXX"))
            .string();
    path_ = mkdtemp(templ.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // `name` inside the directory.
  std::string Path(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

inline void WriteAll(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace raftkv::kv::testing

#endif  // RAFTKV_TESTS_KV_FILE_UTIL_H_
