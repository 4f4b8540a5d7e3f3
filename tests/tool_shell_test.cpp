// Shell tool: argv execution without a shell, exit codes, the output cap, the timeout (which kills
// the process group), and the off-by-default switch. Refusals are in tool_security_test.cpp.
#include <gtest/gtest.h>

#include "assistant/tool_shell.h"

namespace cove::assistant {
namespace {

ShellToolOptions options_for(std::vector<std::string> allowed) {
  ShellToolOptions options;
  options.enabled = true;
  options.allowed_commands = std::move(allowed);
  return options;
}

TEST(ShellTool, RunsAnAllowedProgramWithArguments) {
  ToolDefinition tool = make_shell_tool(options_for({"echo"}));
  ToolResult result = tool.handler({{"command", "echo  hello   world"}, {"args", {"and more"}}});
  ASSERT_FALSE(result.is_error) << result.text;
  // "and more" is one argument: no word splitting or quoting by a shell.
  EXPECT_EQ(result.text, "hello world and more\n");
  EXPECT_EQ(result.structured["argv"], nlohmann::json({"echo", "hello", "world", "and more"}));
  EXPECT_EQ(result.structured["exit_code"], 0);
}

TEST(ShellTool, NonZeroExitIsAnErrorWithTheOutput) {
  ToolDefinition tool = make_shell_tool(options_for({"ls"}));
  ToolResult result = tool.handler({{"command", "ls does-not-exist-here"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_NE(result.text.find("does-not-exist-here"), std::string::npos);  // stderr is captured
  EXPECT_NE(result.text.find("[exit code 2]"), std::string::npos);
}

TEST(ShellTool, OutputIsCapped) {
  ShellToolOptions options = options_for({"seq"});
  options.max_output_bytes = 100;
  Result<std::vector<std::string>> argv = parse_shell_command("seq 1 100000", {}, options);
  ASSERT_TRUE(argv.is_ok());
  Result<CommandOutput> out = run_command(*argv, options);
  ASSERT_TRUE(out.is_ok()) << out.message();
  EXPECT_EQ(out->output.size(), 100u);
  EXPECT_TRUE(out->truncated);
  EXPECT_EQ(out->exit_code, 0);
  EXPECT_EQ(out->output.substr(0, 6), "1\n2\n3\n");
}

TEST(ShellTool, TimeoutKillsTheProgram) {
  ShellToolOptions options = options_for({"sleep"});
  options.timeout = std::chrono::milliseconds(200);
  ToolResult result = make_shell_tool(options).handler({{"command", "sleep 30"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_TRUE(result.structured["timed_out"].get<bool>());
  EXPECT_NE(result.text.find("[killed after 200 ms]"), std::string::npos);
}

TEST(ShellTool, RunsInTheWorkingDirectoryWithAMinimalEnvironment) {
  ShellToolOptions options = options_for({"pwd"});
  options.working_directory = "/tmp";
  ToolResult result = make_shell_tool(options).handler({{"command", "pwd"}});
  ASSERT_FALSE(result.is_error) << result.text;
  EXPECT_EQ(result.text, "/tmp\n");
}

TEST(ShellTool, DisabledByDefault) {
  ShellToolOptions options;
  options.allowed_commands = {"echo"};
  ToolResult result = make_shell_tool(options).handler({{"command", "echo hi"}});
  EXPECT_TRUE(result.is_error);
  EXPECT_EQ(result.text, "shell: the shell tool is disabled");
}

TEST(ShellTool, ParseRefusesEmptyAndTooManyArguments) {
  ShellToolOptions options = options_for({"echo"});
  options.max_args = 3;
  EXPECT_FALSE(parse_shell_command("   ", {}, options).is_ok());
  EXPECT_FALSE(parse_shell_command("echo a b c d", {}, options).is_ok());
  EXPECT_TRUE(parse_shell_command("echo a b c", {}, options).is_ok());
  EXPECT_TRUE(parse_shell_command("echo --flag=value", {}, options).is_ok());
}

}  // namespace
}  // namespace cove::assistant
