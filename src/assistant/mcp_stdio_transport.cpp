// MCP stdio transport: spawning the server, line framing, stderr draining, exit detection and
// shutdown (see mcp_stdio_transport.h).
#include "assistant/mcp_stdio_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

extern char** environ;

namespace cove::assistant {

namespace {

constexpr size_t kStderrLineLimit = 500;  // longer stderr lines are cut in the tail we keep

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* name = strsignal(sig);
    return "was killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")"
                                                                 : std::string());
  }
  return "ended (wait status " + std::to_string(status) + ")";
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Writes all of `data` to a non-blocking fd before `deadline`. SIGPIPE is blocked in this
// thread for the write so that a server that closed its stdin gives EPIPE instead of killing us.
Status write_all(int fd, std::string_view data, McpClock::time_point deadline) {
  sigset_t pipe_set, old_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
  Status status;
  size_t done = 0;
  while (done < data.size()) {
    ssize_t wrote = ::write(fd, data.data() + done, data.size() - done);
    if (wrote > 0) {
      done += static_cast<size_t>(wrote);
      continue;
    }
    if (wrote < 0 && errno == EINTR) continue;
    if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - McpClock::now());
      if (left.count() <= 0) {
        status = Error{"timed out writing to the server's stdin (it is not reading)", "timeout"};
        break;
      }
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
      continue;
    }
    int err = errno;
    if (err == EPIPE) {
      // Consume the SIGPIPE raised for this write so it does not fire when we unblock.
      timespec zero{0, 0};
      sigtimedwait(&pipe_set, nullptr, &zero);
      status = Error{"the server closed its stdin", "closed"};
    } else {
      status = Error{std::string("writing to the server failed: ") + std::strerror(err), "closed"};
    }
    break;
  }
  pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
  return status;
}

}  // namespace

McpStdioTransport::McpStdioTransport(McpStdioOptions options) : options_(std::move(options)) {}

McpStdioTransport::~McpStdioTransport() { close(); }

std::string McpStdioTransport::describe() const {
  std::string text = "stdio '" + options_.command;
  for (const std::string& arg : options_.args) text += " " + arg;
  return text + "'";
}

int McpStdioTransport::pid() const {
  std::lock_guard lock(mutex_);
  return exited_ ? -1 : pid_;
}

std::vector<std::string> McpStdioTransport::recent_stderr() const {
  std::lock_guard lock(mutex_);
  return {stderr_lines_.begin(), stderr_lines_.end()};
}

std::string McpStdioTransport::stderr_tail() const {
  std::lock_guard lock(mutex_);
  std::string tail;
  size_t first = stderr_lines_.size() > 3 ? stderr_lines_.size() - 3 : 0;
  for (size_t i = first; i < stderr_lines_.size(); ++i) {
    if (!tail.empty()) tail += " | ";
    tail += stderr_lines_[i];
  }
  return tail;
}

Status McpStdioTransport::open(McpTransportEvents events) {
  if (reader_.joinable()) {
    // A previous process: either it ended (its reader is finishing) or close() was skipped.
    bool running;
    {
      std::lock_guard lock(mutex_);
      running = !exited_;
    }
    if (running) close();
    if (reader_.joinable()) reader_.join();
  }
  if (options_.command.empty()) return Error{"no command configured for the stdio MCP server"};
  events_ = std::move(events);

  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      pipe2(err_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    for (int* p : {in_pipe, out_pipe, err_pipe}) {
      close_fd(p[0]);
      close_fd(p[1]);
    }
    return Error{std::string("cannot create pipes for ") + describe() + ": " + std::strerror(err)};
  }

  // The environment: ours, with the configured variables set on top.
  std::map<std::string, std::string> env_map;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    env_map[std::string(entry.substr(0, eq))] = std::string(entry.substr(eq + 1));
  }
  for (const auto& [key, value] : options_.env) env_map[key] = value;
  std::vector<std::string> env_strings;
  for (const auto& [key, value] : env_map) env_strings.push_back(key + "=" + value);
  std::vector<char*> envp;
  for (std::string& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  std::vector<std::string> argv_strings = {options_.command};
  argv_strings.insert(argv_strings.end(), options_.args.begin(), options_.args.end());
  std::vector<char*> argv;
  for (std::string& s : argv_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  if (!options_.working_directory.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, options_.working_directory.c_str());
  }
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own process group (so shutdown reaches its children), default signal handling and an
  // empty signal mask whatever this process uses.
  sigset_t empty_mask, default_signals;
  sigemptyset(&empty_mask);
  sigemptyset(&default_signals);
  for (int sig : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD}) sigaddset(&default_signals, sig);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setsigmask(&attr, &empty_mask);
  posix_spawnattr_setsigdefault(&attr, &default_signals);

  pid_t child = -1;
  int spawn_error = posix_spawnp(&child, options_.command.c_str(), &actions, &attr, argv.data(),
                                 envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close_fd(in_pipe[0]);
  close_fd(out_pipe[1]);
  close_fd(err_pipe[1]);
  if (spawn_error != 0) {
    close_fd(in_pipe[1]);
    close_fd(out_pipe[0]);
    close_fd(err_pipe[0]);
    std::string where = options_.working_directory.empty()
                            ? std::string()
                            : " in '" + options_.working_directory + "'";
    return Error{"cannot start " + describe() + where + ": " + std::strerror(spawn_error),
                 "spawn_failed"};
  }
  fcntl(in_pipe[1], F_SETFL, fcntl(in_pipe[1], F_GETFL) | O_NONBLOCK);

  {
    std::lock_guard lock(mutex_);
    pid_ = child;
    exited_ = false;
    stopping_ = false;
    stderr_lines_.clear();
    if (!options_.stderr_log_path.empty() && stderr_log_ == nullptr) {
      stderr_log_ = std::fopen(options_.stderr_log_path.c_str(), "ae");
    }
  }
  {
    std::lock_guard lock(write_mutex_);
    stdin_fd_ = in_pipe[1];
  }
  reader_ = std::thread(&McpStdioTransport::read_loop, this, child, out_pipe[0], err_pipe[0]);
  return Status::ok();
}

void McpStdioTransport::handle_stdout(std::string& buffer, bool& discarding, const char* data,
                                      size_t size) {
  const char* end = data + size;
  while (data < end) {
    const char* newline = static_cast<const char*>(std::memchr(data, '\n', end - data));
    size_t take = (newline ? newline : end) - data;
    if (!discarding) buffer.append(data, take);
    data += take;
    if (!newline) {
      if (!discarding && buffer.size() > options_.max_message_bytes) {
        if (events_.on_protocol_error) {
          events_.on_protocol_error("a message longer than " +
                                    std::to_string(options_.max_message_bytes) +
                                    " bytes was dropped");
        }
        buffer.clear();
        discarding = true;
      }
      break;
    }
    ++data;  // past '\n'
    if (discarding) {
      discarding = false;
      buffer.clear();
      continue;
    }
    if (!buffer.empty() && buffer.back() == '\r') buffer.pop_back();
    bool blank = buffer.find_first_not_of(" \t") == std::string::npos;
    if (!blank) {
      Result<std::vector<Json>> messages = parse_message_line(buffer);
      if (!messages.is_ok()) {
        if (events_.on_protocol_error) events_.on_protocol_error(messages.message());
      } else if (events_.on_message) {
        for (Json& message : *messages) events_.on_message(std::move(message));
      }
    }
    buffer.clear();
  }
}

void McpStdioTransport::handle_stderr(std::string& buffer, const char* data, size_t size,
                                      bool flush) {
  buffer.append(data, size);
  size_t start = 0;
  while (true) {
    size_t newline = buffer.find('\n', start);
    bool last = newline == std::string::npos;
    if (last && !(flush && start < buffer.size()) && buffer.size() - start < 64 * 1024) break;
    std::string line = buffer.substr(start, last ? std::string::npos : newline - start);
    start = last ? buffer.size() : newline + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::lock_guard lock(mutex_);
    if (stderr_log_) {
      std::fwrite(line.data(), 1, line.size(), stderr_log_);
      std::fputc('\n', stderr_log_);
      std::fflush(stderr_log_);
    }
    if (!line.empty()) {
      stderr_lines_.push_back(excerpt(line, kStderrLineLimit));
      if (stderr_lines_.size() > kStderrLines) stderr_lines_.pop_front();
    }
    if (last) break;
  }
  buffer.erase(0, start);
}

void McpStdioTransport::read_loop(int pid, int out_fd, int err_fd) {
  std::string out_buffer, err_buffer;
  bool discarding = false;
  int status = 0;
  bool reaped = false;
  auto stdout_closed_at = McpClock::time_point::max();
  char chunk[65536];
  while (!reaped) {
    pollfd fds[2];
    nfds_t n = 0;
    if (out_fd >= 0) fds[n++] = {out_fd, POLLIN, 0};
    if (err_fd >= 0) fds[n++] = {err_fd, POLLIN, 0};
    // Wake up now and then to notice an exit even while a grandchild keeps the pipes open.
    int ready = ::poll(fds, n, n == 0 ? 50 : 200);
    if (ready < 0 && errno != EINTR) break;
    for (nfds_t i = 0; i < n && ready > 0; ++i) {
      if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = ::read(fds[i].fd, chunk, sizeof chunk);
      if (got < 0 && errno == EINTR) continue;
      if (fds[i].fd == out_fd) {
        if (got <= 0) {
          close_fd(out_fd);
          stdout_closed_at = McpClock::now();
        } else {
          handle_stdout(out_buffer, discarding, chunk, static_cast<size_t>(got));
        }
      } else {
        if (got <= 0) {
          handle_stderr(err_buffer, chunk, 0, /*flush=*/true);
          close_fd(err_fd);
        } else {
          handle_stderr(err_buffer, chunk, static_cast<size_t>(got), /*flush=*/false);
        }
      }
    }
    pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid || (waited < 0 && errno == ECHILD)) {
      reaped = true;
      break;
    }
    // A server that closed stdout but lives on can no longer answer: end it.
    bool stopping;
    {
      std::lock_guard lock(mutex_);
      stopping = stopping_;
    }
    if (!stopping && McpClock::now() - stdout_closed_at > std::chrono::seconds(2)) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
  }
  // Whatever the pipes still hold (the last stderr lines explain most crashes).
  for (int* fd : {&out_fd, &err_fd}) {
    if (*fd < 0) continue;
    fcntl(*fd, F_SETFL, fcntl(*fd, F_GETFL) | O_NONBLOCK);
    ssize_t got;
    while ((got = ::read(*fd, chunk, sizeof chunk)) > 0) {
      if (fd == &out_fd) {
        handle_stdout(out_buffer, discarding, chunk, static_cast<size_t>(got));
      } else {
        handle_stderr(err_buffer, chunk, static_cast<size_t>(got), false);
      }
    }
    if (fd == &err_fd) handle_stderr(err_buffer, chunk, 0, true);
    close_fd(*fd);
  }
  {
    std::lock_guard lock(write_mutex_);
    close_fd(stdin_fd_);
  }
  bool stopping;
  {
    std::lock_guard lock(mutex_);
    exited_ = true;
    stopping = stopping_;
  }
  exited_cv_.notify_all();
  if (!stopping && events_.on_closed) {
    std::string reason = "the server process " + std::to_string(pid) + " " +
                         (reaped ? describe_exit(status) : std::string("was lost"));
    std::string tail = stderr_tail();
    if (!tail.empty()) reason += "; last stderr: " + tail;
    events_.on_closed(std::move(reason));
  }
}

Status McpStdioTransport::send(const Json& message, McpClock::time_point deadline,
                               const McpHeaders&) {
  std::string line = message.dump(-1, ' ', false, Json::error_handler_t::replace);
  line += '\n';
  std::lock_guard lock(write_mutex_);
  if (stdin_fd_ < 0) return Error{"the server process is not running", "not_running"};
  Status status = write_all(stdin_fd_, line, deadline);
  if (!status.is_ok() && status.code() == "timeout") {
    // Part of a message may be in the pipe now, so the stream is broken: end this process and
    // let the client restart it.
    close_fd(stdin_fd_);
    kill_group(SIGKILL);
  }
  return status;
}

void McpStdioTransport::kill_group(int signal) {
  std::lock_guard lock(mutex_);
  if (exited_ || pid_ <= 0) return;
  ::kill(-pid_, signal);
  ::kill(pid_, signal);  // in case it left its group
}

void McpStdioTransport::close() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  {
    std::lock_guard lock(write_mutex_);
    close_fd(stdin_fd_);  // step 1: end of input; well-behaved servers exit now
  }
  auto wait_exit = [&](std::chrono::milliseconds limit) {
    std::unique_lock lock(mutex_);
    return exited_cv_.wait_for(lock, limit, [&] { return exited_; });
  };
  if (!wait_exit(options_.shutdown_grace)) {
    kill_group(SIGTERM);  // step 2
    if (!wait_exit(options_.shutdown_grace)) {
      kill_group(SIGKILL);  // step 3
      wait_exit(std::chrono::milliseconds(5000));
    }
  }
  if (reader_.joinable() && reader_.get_id() != std::this_thread::get_id()) reader_.join();
  std::lock_guard lock(mutex_);
  if (stderr_log_) {
    std::fclose(stderr_log_);
    stderr_log_ = nullptr;
  }
}

}  // namespace cove::assistant
