// shell tool: allowlist checks and argv execution with posix_spawn (tool_shell.h).
#include "assistant/tool_shell.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "tokenizer/utf8.h"

namespace cove::assistant {
namespace {

// Programs whose purpose is to run other programs or commands; allowlisting one would let the
// model run anything.
constexpr std::string_view kCommandRunners[] = {
    "sh",   "bash",   "dash", "zsh",   "ksh",    "csh",     "tcsh",   "fish",   "busybox",
    "env",  "xargs",  "sudo", "su",    "doas",   "nohup",   "timeout", "nice",  "setsid",
    "exec", "eval",   "time", "watch", "script", "strace",  "chroot", "unshare", "flock",
    "python", "python3", "perl", "ruby", "node", "php",  "lua",    "awk",    "gawk", "find"};

bool is_metacharacter(unsigned char c) {
  if (c < 0x20 || c == 0x7F) return true;  // control characters, newlines included
  return std::string_view(";|&$`<>(){}[]*?~!#'\"\\").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

bool is_bare_name(std::string_view name) {
  return !name.empty() && name.find('/') == std::string_view::npos && name != "." && name != "..";
}

}  // namespace

Status ShellToolOptions::validate() const {
  for (const std::string& name : allowed_commands) {
    if (!is_bare_name(name) ||
        std::any_of(name.begin(), name.end(), [](char c) { return is_metacharacter(c) || c == ' '; })) {
      return Error{"shell allowlist: '" + name + "' is not a bare program name"};
    }
    if (std::find(std::begin(kCommandRunners), std::end(kCommandRunners), name) !=
        std::end(kCommandRunners)) {
      return Error{"shell allowlist: '" + name +
                   "' runs other commands, which would bypass the allowlist; it cannot be allowed"};
    }
  }
  for (const std::string& dir : search_dirs) {
    if (dir.empty() || dir.front() != '/') {
      return Error{"shell search directory '" + dir + "' must be an absolute path"};
    }
  }
  if (timeout.count() <= 0) return Error{"shell timeout must be positive"};
  return Status::ok();
}

Result<std::vector<std::string>> parse_shell_command(std::string_view command,
                                                     const std::vector<std::string>& extra_args,
                                                     const ShellToolOptions& options) {
  std::vector<std::string> argv;
  size_t i = 0;
  while (i < command.size()) {
    while (i < command.size() && (command[i] == ' ' || command[i] == '\t')) ++i;
    const size_t start = i;
    while (i < command.size() && command[i] != ' ' && command[i] != '\t') ++i;
    if (i > start) argv.emplace_back(command.substr(start, i - start));
  }
  for (const std::string& arg : extra_args) argv.push_back(arg);
  if (argv.empty()) return Error{"the command is empty"};
  if (argv.size() > options.max_args + 1) {
    return Error{"more than " + std::to_string(options.max_args) + " arguments"};
  }
  for (size_t k = 0; k < argv.size(); ++k) {
    const std::string& word = argv[k];
    if (!tokenizer::is_valid_utf8(word)) return Error{"argument " + std::to_string(k) + " is not UTF-8"};
    for (size_t at = 0; at < word.size(); ++at) {
      const unsigned char c = static_cast<unsigned char>(word[at]);
      if (is_metacharacter(c)) {
        std::string shown = c >= 0x20 && c != 0x7F ? std::string(1, static_cast<char>(c))
                                                   : "\\x" + std::to_string(c);
        return Error{"refused: '" + shown + "' in '" + (c >= 0x20 ? word : std::string("...")) +
                     "' is a shell metacharacter; commands run without a shell, one program "
                     "at a time"};
      }
    }
  }
  const std::string& program = argv.front();
  if (!is_bare_name(program)) {
    return Error{"refused: '" + program + "' must be a bare program name without a path"};
  }
  if (std::find(options.allowed_commands.begin(), options.allowed_commands.end(), program) ==
      options.allowed_commands.end()) {
    std::string allowed;
    for (const std::string& name : options.allowed_commands) {
      allowed += (allowed.empty() ? "" : ", ") + name;
    }
    return Error{"refused: '" + program + "' is not an allowed command (allowed: " +
                 (allowed.empty() ? "none" : allowed) + ")"};
  }
  return argv;
}

Result<CommandOutput> run_command(const std::vector<std::string>& argv,
                                  const ShellToolOptions& options) {
  if (argv.empty()) return Error{"the command is empty"};
  std::string executable;
  for (const std::string& dir : options.search_dirs) {
    const std::string candidate = dir + "/" + argv[0];
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
      executable = candidate;
      break;
    }
  }
  if (executable.empty()) return Error{"'" + argv[0] + "' was not found in the search directories"};

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return Error{std::string("pipe: ") + std::strerror(errno)};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  if (!options.working_directory.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options.working_directory.c_str());
  }
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  // Its own process group, so a timeout kills whatever it started too; default signal handling.
  sigset_t all_signals, no_signals;
  sigfillset(&all_signals);
  sigemptyset(&no_signals);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigdefault(&attributes, &all_signals);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF |
                                            POSIX_SPAWN_SETSIGMASK);

  std::vector<char*> c_argv;
  for (const std::string& arg : argv) c_argv.push_back(const_cast<char*>(arg.c_str()));
  c_argv.push_back(nullptr);
  std::string path_env = "PATH=";
  for (const std::string& dir : options.search_dirs) {
    path_env += (path_env.size() > 5 ? ":" : "") + dir;
  }
  const std::string home_env =
      "HOME=" + (options.working_directory.empty() ? std::string("/") : options.working_directory.string());
  std::string lang_env = "LANG=C.UTF-8";
  char* c_env[] = {path_env.data(), lang_env.data(), const_cast<char*>(home_env.c_str()), nullptr};

  pid_t pid = 0;
  const int spawn_error =
      posix_spawn(&pid, executable.c_str(), &actions, &attributes, c_argv.data(), c_env);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  ::close(pipe_fds[1]);
  if (spawn_error != 0) {
    ::close(pipe_fds[0]);
    return Error{"cannot start '" + argv[0] + "': " + std::strerror(spawn_error)};
  }

  CommandOutput out;
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      out.timed_out = true;
      break;
    }
    pollfd pfd{pipe_fds[0], POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    if (ready == 0) continue;
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // every writer closed: the program (and its children) are done with it
    const size_t room = options.max_output_bytes - std::min(options.max_output_bytes, out.output.size());
    out.output.append(buffer, std::min(room, static_cast<size_t>(n)));
    if (static_cast<size_t>(n) > room) out.truncated = true;
  }
  ::close(pipe_fds[0]);
  if (out.timed_out) ::kill(-pid, SIGKILL);
  int status = 0;
  pid_t waited = 0;
  // The pipe closed, but the program may still be running (it closed its output): wait for it
  // within the deadline, then kill it.
  for (;;) {
    waited = ::waitpid(pid, &status, out.timed_out ? 0 : WNOHANG);
    if (waited < 0 && errno == EINTR) continue;
    if (waited != 0) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      out.timed_out = true;
      ::kill(-pid, SIGKILL);
      continue;
    }
    ::usleep(2000);
  }
  if (waited == pid) {
    if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) out.signal = WTERMSIG(status);
  }
  // Whatever the program left behind in its group goes too.
  ::kill(-pid, SIGKILL);
  // Output cut inside a UTF-8 sequence, or binary output, must still reach the model as text.
  out.output = to_valid_utf8(out.output);
  return out;
}

ToolDefinition make_shell_tool(ShellToolOptions options) {
  ToolDefinition tool;
  tool.spec.name = "shell";
  std::string allowed;
  for (const std::string& name : options.allowed_commands) allowed += (allowed.empty() ? "" : ", ") + name;
  tool.spec.description =
      "Run one allowed program with arguments (no shell: no pipes, redirection, variables or "
      "globs). Allowed programs: " + (allowed.empty() ? std::string("none") : allowed) + ".";
  tool.spec.parameters = {
      {"type", "object"},
      {"properties",
       {{"command", {{"type", "string"}, {"description", "program and arguments, like: ls -la"}}},
        {"args", {{"type", "array"}, {"items", {{"type", "string"}}}}}}},
      {"required", {"command"}}};
  const Status valid = options.validate();
  tool.handler = [options = std::move(options), valid](const nlohmann::json& arguments) {
    if (!options.enabled) return ToolResult::error("shell: the shell tool is disabled");
    if (!valid) return ToolResult::error("shell: " + valid.message());
    const std::string command = arguments.at("command").get<std::string>();
    std::vector<std::string> extra;
    if (const auto it = arguments.find("args"); it != arguments.end()) {
      for (const auto& arg : *it) {
        if (!arg.is_string()) return ToolResult::error("shell: every element of args must be a string");
        extra.push_back(arg.get<std::string>());
      }
    }
    Result<std::vector<std::string>> argv = parse_shell_command(command, extra, options);
    if (!argv) return ToolResult::error("shell: " + argv.message());
    Result<CommandOutput> ran = run_command(*argv, options);
    if (!ran) return ToolResult::error("shell: " + ran.message());
    std::string text = ran->output;
    if (ran->truncated) text += "\n[output truncated at " + std::to_string(options.max_output_bytes) + " bytes]";
    if (ran->timed_out) {
      text += "\n[killed after " + std::to_string(options.timeout.count()) + " ms]";
    } else if (ran->exit_code != 0) {
      text += ran->signal ? "\n[ended by signal " + std::to_string(ran->signal) + "]"
                          : "\n[exit code " + std::to_string(ran->exit_code) + "]";
    }
    nlohmann::json structured = {{"argv", *argv},
                                 {"exit_code", ran->exit_code},
                                 {"timed_out", ran->timed_out},
                                 {"truncated", ran->truncated}};
    ToolResult result = ToolResult::ok(std::move(text), std::move(structured));
    result.is_error = ran->timed_out || ran->exit_code != 0;
    return result;
  };
  return tool;
}

}  // namespace cove::assistant
