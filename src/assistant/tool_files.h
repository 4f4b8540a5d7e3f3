// File tools confined to one workspace directory: file_read, file_write, file_list.
//
// Confinement does not rely on string checks of a resolved path (which race with a link swapped
// in between the check and the open). Instead every access walks the relative path one
// component at a time from a descriptor of the workspace root, with openat(..., O_NOFOLLOW):
//   - absolute paths are refused before anything is opened;
//   - a ".." component is refused (even "a/../b"), so the walk can only go down;
//   - a symbolic link anywhere on the path is refused (O_NOFOLLOW makes the kernel stop at it),
//     including links that point back inside: the tools never follow links;
//   - only regular files are read or written (no FIFOs, devices or sockets; opened with
//     O_NONBLOCK so a FIFO cannot block the read), and a file with more than one hard link is
//     not written (it may be a link to a file outside).
// Reads return UTF-8 text only, capped at max_read_bytes; writes are capped at max_write_bytes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/tools.h"
#include "core/result.h"

namespace cove::assistant {

struct FilesToolOptions {
  std::filesystem::path workspace;  // must exist and be a directory
  size_t max_read_bytes = 1u << 20;
  size_t max_write_bytes = 1u << 20;
  size_t max_list_entries = 1000;
  bool allow_write = true;  // false: file_write is not registered
};

struct WorkspaceEntry {
  std::string name;
  std::string type;  // "file", "directory", "symlink", "other"
  uint64_t size = 0;
};

struct WorkspaceRead {
  std::string text;
  bool truncated = false;
};

// A directory opened once; paths given to it are relative to it and cannot leave it.
class Workspace {
 public:
  static Result<Workspace> open(const std::filesystem::path& root);

  Result<WorkspaceRead> read(std::string_view path, size_t max_bytes) const;
  // Creates missing parent directories when `create_directories`.
  Status write(std::string_view path, std::string_view content, bool create_directories) const;
  // "" or "." lists the root. Sorted by name; at most `max_entries`, `truncated` says if more.
  Result<std::vector<WorkspaceEntry>> list(std::string_view path, size_t max_entries,
                                           bool* truncated) const;

  const std::filesystem::path& root() const { return root_; }

 private:
  struct Fd;
  std::filesystem::path root_;
  std::shared_ptr<Fd> root_fd_;
};

// Splits and checks a workspace-relative path: the components, or why it is refused.
Result<std::vector<std::string>> split_workspace_path(std::string_view path);

// The three tools over one workspace (file_write left out when !allow_write).
Result<std::vector<ToolDefinition>> make_file_tools(const FilesToolOptions& options);

}  // namespace cove::assistant
