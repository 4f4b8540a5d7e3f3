#include "core/file_map.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cove {

Result<std::unique_ptr<FileMap>> FileMap::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Error{path + ": cannot open: " + std::strerror(errno)};
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    std::string reason = std::strerror(errno);
    ::close(fd);
    return Error{path + ": cannot stat: " + reason};
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return Error{path + ": not a regular file"};
  }
  std::unique_ptr<FileMap> map(new FileMap());
  map->path_ = path;
  map->size_ = static_cast<size_t>(st.st_size);
  if (map->size_ > 0) {
    void* p = mmap(nullptr, map->size_, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
      std::string reason = std::strerror(errno);
      ::close(fd);
      return Error{path + ": cannot map: " + reason};
    }
    map->data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping keeps the file alive
  return map;
}

FileMap::~FileMap() {
  if (data_ != nullptr) munmap(const_cast<uint8_t*>(data_), size_);
}

}  // namespace cove
