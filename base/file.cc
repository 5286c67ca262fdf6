#include "base/file.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace yiwang {

Status ReadFirstLine(const std::string& path, std::string* line) {
  std::ifstream in(path);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) return Status::NotFound(path + ": no such file");
    return Status::IOError(path + ": " + std::strerror(err));
  }
  std::string first;
  std::getline(in, first);
  if (in.bad()) return Status::IOError(path + ": read failed");
  const auto begin = first.find_first_not_of(" \t");
  const auto end = first.find_last_not_of(" \t\r");
  first = begin == std::string::npos ? std::string() : first.substr(begin, end - begin + 1);
  if (first.empty()) return Status::InvalidArgument(path + ": the first line is empty");
  *line = std::move(first);
  return Status::Ok();
}

}  // namespace yiwang
