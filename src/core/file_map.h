// Read-only memory mapping of a whole file.
//
// Model weights are used straight from the page cache: loading a model maps its file and the
// kernels read the mapped bytes, so resident memory grows only with the pages actually touched.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "core/result.h"

namespace cove {

class FileMap {
 public:
  // Maps `path` read-only. Errors name the file and the OS reason.
  static Result<std::unique_ptr<FileMap>> open(const std::string& path);

  ~FileMap();
  FileMap(const FileMap&) = delete;
  FileMap& operator=(const FileMap&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  const std::string& path() const { return path_; }

 private:
  FileMap() = default;
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace cove
