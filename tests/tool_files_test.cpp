// File tools inside a workspace: read, write (with parent directories), list, size caps, and the
// kinds of files that are not read (binary, FIFOs, directories). Escapes are in
// tool_security_test.cpp.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "assistant/tool_files.h"
#include "support/temp_dir.h"

namespace cove::assistant {
namespace {

namespace fs = std::filesystem;

using testing::TempDir;

void write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

ToolRegistry& registry_with_files(ToolRegistry& registry, const fs::path& workspace,
                                  size_t max_read = 1u << 20) {
  FilesToolOptions options;
  options.workspace = workspace;
  options.max_read_bytes = max_read;
  Result<std::vector<ToolDefinition>> tools = make_file_tools(options);
  EXPECT_TRUE(tools.is_ok()) << (tools ? "" : tools.message());
  if (tools) {
    for (ToolDefinition& tool : *tools) EXPECT_TRUE(registry.add(std::move(tool)).is_ok());
  }
  return registry;
}

TEST(FileTools, WriteThenReadThenList) {
  TempDir dir;
  ToolRegistry registry;
  registry_with_files(registry, dir.path());
  ToolResult written =
      registry.call("file_write", {{"path", "notes/today/todo.md"}, {"content", "buy milk\n"}});
  ASSERT_FALSE(written.is_error) << written.text;
  EXPECT_TRUE(fs::is_regular_file(dir.path() / "notes/today/todo.md"));
  ToolResult read = registry.call("file_read", {{"path", "./notes//today/todo.md"}});
  ASSERT_FALSE(read.is_error) << read.text;
  EXPECT_EQ(read.text, "buy milk\n");
  ToolResult overwritten = registry.call("file_write", {{"path", "notes/today/todo.md"}, {"content", "x"}});
  ASSERT_FALSE(overwritten.is_error);
  EXPECT_EQ(registry.call("file_read", {{"path", "notes/today/todo.md"}}).text, "x");

  write_file(dir.path() / "a.txt", "12345");
  ToolResult listed = registry.call("file_list", nlohmann::json::object());
  ASSERT_FALSE(listed.is_error) << listed.text;
  EXPECT_EQ(listed.text, "a.txt  (5 bytes)\nnotes/\n");
  EXPECT_EQ(listed.structured["entries"][0]["name"], "a.txt");
  EXPECT_EQ(registry.call("file_list", {{"path", "notes"}}).text, "today/\n");
}

TEST(FileTools, ReadIsCappedAtACharacterBoundary) {
  TempDir dir;
  ToolRegistry registry;
  registry_with_files(registry, dir.path(), /*max_read=*/5);
  write_file(dir.path() / "long.txt", "abcd\xC3\xA9xyz");  // the cap falls inside "é"
  ToolResult read = registry.call("file_read", {{"path", "long.txt"}});
  ASSERT_FALSE(read.is_error) << read.text;
  EXPECT_EQ(read.text, "abcd\n[truncated at 5 bytes]");
  EXPECT_TRUE(read.structured["truncated"].get<bool>());
}

TEST(FileTools, RefusesBinaryDirectoriesFifosAndMissingFiles) {
  TempDir dir;
  ToolRegistry registry;
  registry_with_files(registry, dir.path());
  write_file(dir.path() / "blob.bin", std::string("\x00\xFF\xFE", 3));
  fs::create_directory(dir.path() / "sub");
  ASSERT_EQ(::mkfifo((dir.path() / "pipe").c_str(), 0600), 0);
  EXPECT_NE(registry.call("file_read", {{"path", "blob.bin"}}).text.find("not UTF-8"), std::string::npos);
  EXPECT_NE(registry.call("file_read", {{"path", "sub"}}).text.find("is a directory"), std::string::npos);
  EXPECT_NE(registry.call("file_read", {{"path", "pipe"}}).text.find("not a regular file"),
            std::string::npos);
  EXPECT_NE(registry.call("file_read", {{"path", "nope.txt"}}).text.find("does not exist"),
            std::string::npos);
  EXPECT_NE(registry.call("file_write", {{"path", "pipe"}, {"content", "x"}}).text.find("not a regular file"),
            std::string::npos);
  EXPECT_NE(registry.call("file_read", {{"path", ""}}).text.find("workspace itself"), std::string::npos);
}

TEST(FileTools, DoesNotWriteThroughAHardLink) {
  TempDir dir, outside;
  ToolRegistry registry;
  registry_with_files(registry, dir.path());
  write_file(outside.path() / "victim.txt", "original");
  std::error_code error;
  fs::create_hard_link(outside.path() / "victim.txt", dir.path() / "link.txt", error);
  if (error) GTEST_SKIP() << "hard links across these folders: " << error.message();
  ToolResult result = registry.call("file_write", {{"path", "link.txt"}, {"content", "changed"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_NE(result.text.find("hard links"), std::string::npos);
  std::ifstream in(outside.path() / "victim.txt");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "original");
}

TEST(FileTools, ReadOnlyWorkspaceHasNoWriteTool) {
  TempDir dir;
  FilesToolOptions options;
  options.workspace = dir.path();
  options.allow_write = false;
  Result<std::vector<ToolDefinition>> tools = make_file_tools(options);
  ASSERT_TRUE(tools.is_ok());
  for (const ToolDefinition& tool : *tools) EXPECT_NE(tool.spec.name, "file_write");
  options.workspace = dir.path() / "missing";
  EXPECT_FALSE(make_file_tools(options).is_ok());
}

}  // namespace
}  // namespace cove::assistant
