// Workspace-confined file access by openat walks with O_NOFOLLOW (tool_files.h).
#include "assistant/tool_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tokenizer/utf8.h"

namespace cove::assistant {

struct Workspace::Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

namespace {

// Closes a descriptor on scope exit.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = other.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string quoted(std::string_view path) { return "'" + std::string(path) + "'"; }

// Why openat() of `name` under `dir_fd` failed, in words; tells a refused link from a missing
// file.
std::string open_error(int dir_fd, const std::string& name, std::string_view path, int error) {
  struct stat st {};
  if ((error == ELOOP || error == ENOTDIR || error == EMLINK) &&
      ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
    return quoted(path) + ": '" + name +
           "' is a symbolic link; links are not followed, so nothing can point out of the "
           "workspace";
  }
  if (error == ENOENT) return quoted(path) + ": '" + name + "' does not exist";
  if (error == ENXIO) return quoted(path) + " is not a regular file";  // a FIFO with no reader
  if (error == ENOTDIR) return quoted(path) + ": '" + name + "' is not a directory";
  return quoted(path) + ": " + std::strerror(error);
}

}  // namespace

Result<std::vector<std::string>> split_workspace_path(std::string_view path) {
  if (path.find('\0') != std::string_view::npos) {
    return Error{"the path contains a NUL byte"};
  }
  if (!path.empty() && path.front() == '/') {
    return Error{quoted(path) + " is an absolute path; paths must be relative to the workspace"};
  }
  if (path.size() > 4096) return Error{"the path is longer than 4096 bytes"};
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      return Error{quoted(path) + " leaves the workspace: '..' is not allowed in paths"};
    }
    if (!part.empty() && part != ".") parts.emplace_back(part);
    start = end + 1;
  }
  return parts;
}

Result<Workspace> Workspace::open(const std::filesystem::path& root) {
  const int fd = ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return Error{"workspace '" + root.string() + "': " + std::strerror(errno)};
  }
  Workspace workspace;
  workspace.root_ = root;
  workspace.root_fd_ = std::make_shared<Fd>();
  workspace.root_fd_->fd = fd;
  return workspace;
}

namespace {

// Walks `parts[0 .. parts.size() - 1)` (all but the last) as directories from `root_fd`,
// refusing links. Returns the descriptor of the last directory.
Result<UniqueFd> walk_directories(int root_fd, const std::vector<std::string>& parts,
                                  std::string_view path, bool create) {
  UniqueFd dir(::fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (dir.get() < 0) return Error{quoted(path) + ": " + std::strerror(errno)};
  for (size_t k = 0; k + 1 < parts.size(); ++k) {
    const std::string& name = parts[k];
    int next = ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0 && errno == ENOENT && create) {
      if (::mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
        return Error{quoted(path) + ": cannot create '" + name + "': " + std::strerror(errno)};
      }
      next = ::openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (next < 0) return Error{open_error(dir.get(), name, path, errno)};
    dir = UniqueFd(next);
  }
  return dir;
}

}  // namespace

Result<WorkspaceRead> Workspace::read(std::string_view path, size_t max_bytes) const {
  Result<std::vector<std::string>> parts = split_workspace_path(path);
  if (!parts) return parts.error();
  if (parts->empty()) return Error{quoted(path) + " names the workspace itself, not a file"};
  Result<UniqueFd> dir = walk_directories(root_fd_->fd, *parts, path, false);
  if (!dir) return dir.error();
  const std::string& name = parts->back();
  UniqueFd file(::openat(dir->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (file.get() < 0) return Error{open_error(dir->get(), name, path, errno)};
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return Error{quoted(path) + ": " + std::strerror(errno)};
  if (S_ISDIR(st.st_mode)) return Error{quoted(path) + " is a directory; use file_list"};
  if (!S_ISREG(st.st_mode)) return Error{quoted(path) + " is not a regular file"};

  WorkspaceRead out;
  std::string& text = out.text;
  text.resize(std::min<uint64_t>(static_cast<uint64_t>(st.st_size), max_bytes) + 1);
  size_t filled = 0;
  while (filled < text.size()) {
    const ssize_t n = ::read(file.get(), text.data() + filled, text.size() - filled);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{quoted(path) + ": " + std::strerror(errno)};
    if (n == 0) break;
    filled += static_cast<size_t>(n);
  }
  text.resize(filled);
  if (text.size() > max_bytes) {
    text.resize(max_bytes);
    out.truncated = true;
    // Do not cut a character in half: drop an incomplete sequence at the end (at most 3 bytes).
    for (int k = 0; k < 3 && !text.empty() && !tokenizer::is_valid_utf8(text); ++k) text.pop_back();
  }
  if (!tokenizer::is_valid_utf8(text)) {
    return Error{quoted(path) + " is not UTF-8 text (a binary file?)"};
  }
  return out;
}

Status Workspace::write(std::string_view path, std::string_view content,
                        bool create_directories) const {
  Result<std::vector<std::string>> parts = split_workspace_path(path);
  if (!parts) return parts.status();
  if (parts->empty()) return Error{quoted(path) + " names the workspace itself, not a file"};
  Result<UniqueFd> dir = walk_directories(root_fd_->fd, *parts, path, create_directories);
  if (!dir) return dir.status();
  const std::string& name = parts->back();
  // No O_TRUNC yet: the checks below must pass before anything is changed.
  UniqueFd file(::openat(dir->get(), name.c_str(),
                         O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0644));
  if (file.get() < 0) return Error{open_error(dir->get(), name, path, errno)};
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return Error{quoted(path) + ": " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode)) return Error{quoted(path) + " is not a regular file"};
  if (st.st_nlink > 1) {
    return Error{quoted(path) + " has other hard links (which may be outside the workspace); "
                                "not written"};
  }
  if (::ftruncate(file.get(), 0) != 0) return Error{quoted(path) + ": " + std::strerror(errno)};
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(file.get(), content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{quoted(path) + ": " + std::strerror(errno)};
    written += static_cast<size_t>(n);
  }
  return Status::ok();
}

Result<std::vector<WorkspaceEntry>> Workspace::list(std::string_view path, size_t max_entries,
                                                    bool* truncated) const {
  Result<std::vector<std::string>> parts = split_workspace_path(path);
  if (!parts) return parts.error();
  UniqueFd dir;
  if (parts->empty()) {
    dir = UniqueFd(::fcntl(root_fd_->fd, F_DUPFD_CLOEXEC, 0));
  } else {
    Result<UniqueFd> parent = walk_directories(root_fd_->fd, *parts, path, false);
    if (!parent) return parent.error();
    const std::string& name = parts->back();
    dir = UniqueFd(::openat(parent->get(), name.c_str(),
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir.get() < 0) return Error{open_error(parent->get(), name, path, errno)};
  }
  if (dir.get() < 0) return Error{quoted(path) + ": " + std::strerror(errno)};
  const int dir_fd = dir.get();
  DIR* stream = ::fdopendir(dir.release());
  if (!stream) {
    ::close(dir_fd);
    return Error{quoted(path) + ": " + std::strerror(errno)};
  }
  std::vector<WorkspaceEntry> entries;
  bool more = false;
  while (const dirent* item = ::readdir(stream)) {
    const std::string name = item->d_name;
    if (name == "." || name == "..") continue;
    if (entries.size() >= max_entries) {
      more = true;
      break;
    }
    WorkspaceEntry entry{name, "other", 0};
    struct stat st {};
    if (::fstatat(::dirfd(stream), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (S_ISREG(st.st_mode)) {
        entry.type = "file";
        entry.size = static_cast<uint64_t>(st.st_size);
      } else if (S_ISDIR(st.st_mode)) {
        entry.type = "directory";
      } else if (S_ISLNK(st.st_mode)) {
        entry.type = "symlink";
      }
    }
    entries.push_back(std::move(entry));
  }
  ::closedir(stream);
  std::sort(entries.begin(), entries.end(),
            [](const WorkspaceEntry& a, const WorkspaceEntry& b) { return a.name < b.name; });
  if (truncated) *truncated = more;
  return entries;
}

Result<std::vector<ToolDefinition>> make_file_tools(const FilesToolOptions& options) {
  Result<Workspace> opened = Workspace::open(options.workspace);
  if (!opened) return opened.error();
  const auto workspace = std::make_shared<const Workspace>(std::move(*opened));
  const nlohmann::ordered_json path_property = {
      {"type", "string"}, {"description", "a path relative to the workspace, like notes/todo.md"}};
  std::vector<ToolDefinition> tools;

  ToolDefinition read;
  read.spec.name = "file_read";
  read.spec.description = "Read a UTF-8 text file from the workspace.";
  read.spec.parameters = {{"type", "object"},
                          {"properties", {{"path", path_property}}},
                          {"required", {"path"}}};
  read.handler = [workspace, max = options.max_read_bytes](const nlohmann::json& arguments) {
    const std::string path = arguments.at("path").get<std::string>();
    Result<WorkspaceRead> result = workspace->read(path, max);
    if (!result) return ToolResult::error("file_read: " + result.message());
    nlohmann::json structured = {{"path", path},
                                 {"bytes", result->text.size()},
                                 {"truncated", result->truncated}};
    std::string text = std::move(result->text);
    if (structured["truncated"].get<bool>()) {
      text += "\n[truncated at " + std::to_string(max) + " bytes]";
    }
    return ToolResult::ok(std::move(text), std::move(structured));
  };
  tools.push_back(std::move(read));

  if (options.allow_write) {
    ToolDefinition write;
    write.spec.name = "file_write";
    write.spec.description =
        "Write a UTF-8 text file in the workspace, replacing it if it exists. Missing parent "
        "directories are created.";
    write.spec.parameters = {
        {"type", "object"},
        {"properties", {{"path", path_property}, {"content", {{"type", "string"}}}}},
        {"required", {"path", "content"}}};
    write.handler = [workspace, max = options.max_write_bytes](const nlohmann::json& arguments) {
      const std::string path = arguments.at("path").get<std::string>();
      const std::string content = arguments.at("content").get<std::string>();
      if (content.size() > max) {
        return ToolResult::error("file_write: the content is " + std::to_string(content.size()) +
                                 " bytes, more than the limit of " + std::to_string(max));
      }
      if (Status status = workspace->write(path, content, true); !status) {
        return ToolResult::error("file_write: " + status.message());
      }
      return ToolResult::ok("wrote " + std::to_string(content.size()) + " bytes to " + path,
                            {{"path", path}, {"bytes", content.size()}});
    };
    tools.push_back(std::move(write));
  }

  ToolDefinition list;
  list.spec.name = "file_list";
  list.spec.description = "List a directory of the workspace (the root when path is empty).";
  list.spec.parameters = {{"type", "object"}, {"properties", {{"path", path_property}}}};
  list.handler = [workspace, max = options.max_list_entries](const nlohmann::json& arguments) {
    std::string path;
    if (const auto it = arguments.find("path"); it != arguments.end() && it->is_string()) {
      path = it->get<std::string>();
    }
    bool truncated = false;
    Result<std::vector<WorkspaceEntry>> entries = workspace->list(path, max, &truncated);
    if (!entries) return ToolResult::error("file_list: " + entries.message());
    std::string text;
    nlohmann::json items = nlohmann::json::array();
    for (const WorkspaceEntry& entry : *entries) {
      text += entry.name + (entry.type == "directory" ? "/" : "") +
              (entry.type == "file" ? "  (" + std::to_string(entry.size) + " bytes)" : "") +
              (entry.type == "symlink" ? "  (symbolic link, not followed)" : "") + "\n";
      items.push_back({{"name", entry.name}, {"type", entry.type}, {"size", entry.size}});
    }
    if (entries->empty()) text = "(empty)\n";
    if (truncated) text += "[more entries not shown]\n";
    return ToolResult::ok(std::move(text), {{"entries", std::move(items)}, {"truncated", truncated}});
  };
  tools.push_back(std::move(list));
  return tools;
}

}  // namespace cove::assistant
