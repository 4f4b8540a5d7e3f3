// The MCP client: request/response matching with timeouts, what the server sends, tools/call,
// the worker thread's restarts, start and shutdown (see mcp_client.h). Handshakes and tool
// paging are in mcp_handshake.cpp.
#include "assistant/mcp_client.h"
#include "assistant/mcp_client_internal.h"

#include <algorithm>
#include <future>

namespace cove::assistant {

using namespace mcp_detail;

struct McpClient::Pending {
  std::string method;
  std::promise<Result<Reply>> promise;
  bool settled = false;  // guarded by the client's mutex_
};

Status validate_mcp_client_config(const McpClientConfig& config) {
  std::string where = "mcp server '" + config.name + "'";
  if (!valid_prefix(config.name)) {
    return Error{where + ": the name must be 1-32 characters of letters, digits, '_' or '-' "
                 "(it prefixes the server's tool names)"};
  }
  if (config.transport == McpTransportKind::kStdio && config.stdio.command.empty()) {
    return Error{where + ": 'command' is required for the stdio transport"};
  }
  if (config.transport == McpTransportKind::kHttp) {
    Result<HttpUrl> url = parse_http_url(config.http.url);
    if (!url.is_ok()) return Error{where + ": " + url.message()};
  }
  if (config.protocol != "auto" && config.protocol != kMcpModernVersion &&
      !is_legacy_version(config.protocol)) {
    return Error{where + ": protocol '" + config.protocol + "' is not one of auto, " +
                 supported_list()};
  }
  if (config.request_timeout.count() <= 0 || config.startup_timeout.count() <= 0) {
    return Error{where + ": timeouts must be positive"};
  }
  return Status::ok();
}

Result<std::unique_ptr<McpClient>> McpClient::create(McpClientConfig config) {
  Status valid = validate_mcp_client_config(config);
  if (!valid.is_ok()) return Error{valid.message()};
  std::unique_ptr<McpTransport> transport;
  if (config.transport == McpTransportKind::kStdio) {
    transport = std::make_unique<McpStdioTransport>(config.stdio);
  } else {
    transport = std::make_unique<McpHttpTransport>(config.http);
  }
  return std::make_unique<McpClient>(std::move(config), std::move(transport));
}

McpClient::McpClient(McpClientConfig config, std::unique_ptr<McpTransport> transport)
    : config_(std::move(config)), transport_(std::move(transport)) {
  worker_ = std::thread(&McpClient::worker_loop, this);
}

McpClient::~McpClient() { shutdown(); }

// --- state --------------------------------------------------------------------------------

bool McpClient::ready() const {
  std::lock_guard lock(mutex_);
  return state_ == State::kReady;
}

std::string McpClient::protocol_version() const {
  std::lock_guard lock(mutex_);
  return protocol_version_;
}

bool McpClient::stateless() const {
  std::lock_guard lock(mutex_);
  return era_ == Era::kModern;
}

Json McpClient::server_info() const {
  std::lock_guard lock(mutex_);
  return server_info_;
}

std::string McpClient::instructions() const {
  std::lock_guard lock(mutex_);
  return instructions_;
}

std::vector<McpTool> McpClient::tools() const {
  std::lock_guard lock(mutex_);
  return tools_;
}

void McpClient::set_tools_changed_callback(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  tools_changed_ = std::move(callback);
}

std::vector<std::string> McpClient::recent_problems() const {
  std::lock_guard lock(mutex_);
  return {problems_.begin(), problems_.end()};
}

void McpClient::note_problem(const std::string& problem) {
  std::string line = "mcp server '" + config_.name + "': " + problem;
  {
    std::lock_guard lock(mutex_);
    problems_.push_back(line);
    if (problems_.size() > kMaxProblems) problems_.pop_front();
  }
  if (config_.log) config_.log(line);
}

// --- worker thread: restarts and tool-list refreshes ---------------------------------------

void McpClient::enqueue(std::function<void()> task) {
  {
    std::lock_guard lock(worker_mutex_);
    if (worker_stop_) return;
    tasks_.push_back(std::move(task));
  }
  worker_cv_.notify_all();
}

void McpClient::worker_loop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock lock(worker_mutex_);
      worker_cv_.wait(lock, [&] { return worker_stop_ || !tasks_.empty(); });
      if (worker_stop_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

void McpClient::restart_loop() {
  // restart_queued_ stays set while this runs, so a death during a restart attempt does not
  // queue a second loop; it is cleared on every way out.
  struct ClearQueued {
    McpClient* client;
    ~ClearQueued() {
      std::lock_guard lock(client->mutex_);
      client->restart_queued_ = false;
    }
  } clear_queued{this};
  std::chrono::milliseconds backoff = config_.restart_backoff;
  {
    std::lock_guard lock(mutex_);
    // A server that ran for a while gets a quick restart; one that keeps dying backs off.
    if (consecutive_failures_ > 0) {
      for (int i = 0; i < consecutive_failures_ && backoff < config_.restart_backoff_max; ++i) {
        backoff *= 2;
      }
      backoff = std::min(backoff, config_.restart_backoff_max);
    }
  }
  while (true) {
    {
      std::unique_lock lock(worker_mutex_);
      if (worker_cv_.wait_for(lock, backoff, [&] { return worker_stop_; })) return;
    }
    {
      std::lock_guard lock(mutex_);
      if (state_ == State::kShutdown) return;
    }
    transport_->close();  // a dead process is reaped; a wedged one is stopped
    Status connected = connect_once(McpClock::now() + config_.startup_timeout);
    std::function<void()> changed;
    {
      std::lock_guard lock(mutex_);
      if (state_ == State::kShutdown) return;
      if (connected.is_ok()) {
        state_ = State::kReady;
        consecutive_failures_ = 0;
        last_failure_.clear();
        ready_since_ = McpClock::now();
        changed = tools_changed_;
      } else {
        state_ = State::kRestarting;
        last_failure_ = connected.message();
        ++consecutive_failures_;
      }
    }
    state_cv_.notify_all();
    if (connected.is_ok()) {
      restarts_.fetch_add(1);
      note_problem("restarted (" + transport_->describe() + ")");
      if (changed) changed();
      return;
    }
    note_problem("restart failed: " + connected.message());
    transport_->close();
    backoff = std::min(backoff * 2, config_.restart_backoff_max);
  }
}

// --- transport events -----------------------------------------------------------------------

McpTransportEvents McpClient::make_events() {
  McpTransportEvents events;
  events.on_message = [this](Json message) { on_message(std::move(message)); };
  events.on_protocol_error = [this](std::string problem) {
    note_problem("sent something unusable: " + problem);
  };
  events.on_closed = [this](std::string reason) { on_closed(reason); };
  return events;
}

void McpClient::fail_pending(const std::string& why, const std::string& code) {
  std::map<int64_t, std::shared_ptr<Pending>> failed;
  {
    std::lock_guard lock(mutex_);
    failed.swap(pending_);
    for (auto& [id, pending] : failed) pending->settled = true;
  }
  for (auto& [id, pending] : failed) {
    pending->promise.set_value(Error{"mcp server '" + config_.name + "' " + why +
                                         " while waiting for " + pending->method, code});
  }
}

void McpClient::on_closed(const std::string& reason) {
  bool restart = false;
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::kShutdown) return;
    last_failure_ = reason;
    last_exit_ = reason;
    if (state_ == State::kReady) {
      // Uptime decides the backoff: a server that lived a while is restarted at once.
      bool short_lived = McpClock::now() - ready_since_ < std::chrono::seconds(30);
      consecutive_failures_ = short_lived ? std::max(consecutive_failures_, 1) : 0;
      state_ = State::kRestarting;
    }
    restart = state_ == State::kRestarting && transport_->restartable() && !restart_queued_;
    if (restart) restart_queued_ = true;
  }
  state_cv_.notify_all();
  note_problem(reason);
  fail_pending("(" + transport_->describe() + ") " + reason, "server_exited");
  if (restart) enqueue([this] { restart_loop(); });
}

void McpClient::on_message(Json value) {
  McpMessage message = classify_message(value);
  switch (message.kind) {
    case McpMessageKind::kResult:
    case McpMessageKind::kError: {
      int64_t id = 0;
      bool have_id = false;
      if (message.id.is_number_integer()) {
        id = message.id.get<int64_t>();
        have_id = true;
      } else if (message.id.is_string()) {  // some servers echo ids as strings
        const std::string& text = message.id.get_ref<const std::string&>();
        char* end = nullptr;
        long long parsed = std::strtoll(text.c_str(), &end, 10);
        have_id = !text.empty() && end && *end == '\0';
        id = parsed;
      }
      std::shared_ptr<Pending> pending;
      {
        std::lock_guard lock(mutex_);
        auto it = have_id ? pending_.find(id) : pending_.end();
        if (it != pending_.end()) {
          pending = it->second;
          pending->settled = true;
          pending_.erase(it);
        }
      }
      if (!pending) {
        if (message.kind == McpMessageKind::kError && message.id.is_null()) {
          note_problem("error without a request id: " + excerpt(message.error_message));
        } else {
          note_problem("response to unknown or expired request id " + excerpt(message.id.dump()));
        }
        return;
      }
      Reply reply;
      reply.is_error = message.kind == McpMessageKind::kError;
      reply.result = std::move(message.result);
      reply.error_code = message.error_code;
      reply.error_message = std::move(message.error_message);
      reply.error_data = std::move(message.error_data);
      pending->promise.set_value(std::move(reply));
      return;
    }
    case McpMessageKind::kNotification:
      if (message.method == "notifications/tools/list_changed") {
        enqueue([this] {
          if (!ready()) return;
          Result<std::vector<McpTool>> tools = refresh_tools();
          if (!tools.is_ok()) note_problem("refreshing tools failed: " + tools.message());
        });
      } else if (message.method == "notifications/message" && message.params.is_object()) {
        const Json& data = message.params.contains("data") ? message.params["data"] : Json();
        note_problem("log: " + excerpt(data.is_string() ? data.get<std::string>() : data.dump(),
                                       300));
      }
      return;  // progress and other notifications are not used
    case McpMessageKind::kRequest: {
      // The server asks something of us. We declare no client capabilities, so only ping has
      // an answer; anything else gets "method not found" so the server does not wait.
      Json reply = message.method == "ping"
                       ? make_result_response(message.id, Json::object())
                       : make_error_response(message.id, kJsonRpcMethodNotFound,
                                             "cove does not provide '" + message.method + "'");
      Status sent = transport_->send(reply, McpClock::now() + std::chrono::seconds(5), {});
      if (!sent.is_ok()) note_problem("could not answer " + message.method + ": " + sent.message());
      return;
    }
    case McpMessageKind::kInvalid:
      note_problem("sent an invalid JSON-RPC message (" + message.problem + "): " +
                   excerpt(value.dump(-1, ' ', false, Json::error_handler_t::replace)));
      return;
  }
}

// --- requests -------------------------------------------------------------------------------

McpHeaders McpClient::headers_for(const Json& message) const {
  McpHeaders headers;
  std::string version;
  bool modern;
  {
    std::lock_guard lock(mutex_);
    version = protocol_version_;
    modern = era_ == Era::kModern;
  }
  if (!version.empty()) headers.emplace_back("MCP-Protocol-Version", version);
  if (modern && message.contains("method")) {
    const std::string method = message["method"].get<std::string>();
    headers.emplace_back("Mcp-Method", method);
    const Json& params = message.contains("params") ? message["params"] : Json();
    if (params.is_object()) {
      const char* key = method == "resources/read" ? "uri" : "name";
      if ((method == "tools/call" || method == "prompts/get" || method == "resources/read") &&
          params.contains(key) && params[key].is_string()) {
        headers.emplace_back("Mcp-Name", encode_mcp_header_value(params[key].get<std::string>()));
      }
    }
  }
  return headers;
}

Result<McpClient::Reply> McpClient::exchange(const std::string& method, Json params,
                                             McpClock::time_point deadline) {
  auto pending = std::make_shared<Pending>();
  pending->method = method;
  std::future<Result<Reply>> future = pending->promise.get_future();
  int64_t id;
  bool modern;
  std::string version;
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::kShutdown) {
      return Error{"mcp server '" + config_.name + "' is shut down", "shutdown"};
    }
    id = next_id_++;
    pending_[id] = pending;
    modern = era_ == Era::kModern;
    version = protocol_version_;
  }
  if (modern) {
    // The stateless form: every request says who we are and which version it speaks.
    if (!params.is_object()) params = Json::object();
    Json& meta = params["_meta"];
    if (!meta.is_object()) meta = Json::object();
    meta["io.modelcontextprotocol/protocolVersion"] = version;
    meta["io.modelcontextprotocol/clientInfo"] = {{"name", kClientName},
                                                  {"version", kClientVersion}};
    meta["io.modelcontextprotocol/clientCapabilities"] = Json::object();
  }
  Json message = make_request(id, method, std::move(params));
  McpHeaders headers = headers_for(message);
  if (method == "tools/call" && modern) {
    // Mirror x-mcp-header parameters of the tool being called.
    const Json& call = message["params"];
    std::string tool_name = call.value("name", std::string());
    std::lock_guard lock(mutex_);
    for (const McpTool& tool : tools_) {
      if (tool.name != tool_name) continue;
      McpHeaders extra = header_params_for_call(tool, call.value("arguments", Json::object()));
      headers.insert(headers.end(), extra.begin(), extra.end());
    }
  }
  Status sent = transport_->send(message, deadline, headers);
  if (!sent.is_ok() && sent.code() == "closed" && transport_->restartable()) {
    // The process is gone or going; its exit status and stderr (delivered by on_closed in a
    // moment) say far more than "broken pipe", so give that a short while to arrive.
    (void)future.wait_until(std::min(deadline, McpClock::now() + std::chrono::seconds(2)));
  }
  if (!sent.is_ok()) {
    bool owned;
    {
      std::lock_guard lock(mutex_);
      owned = !pending->settled;
      if (owned) {
        pending->settled = true;
        pending_.erase(id);
      }
    }
    // When the connection died during the send, on_closed already settled it with the reason.
    if (owned) {
      return Error{"mcp server '" + config_.name + "': " + method + " failed: " + sent.message(),
                   sent.code()};
    }
  }
  if (future.wait_until(deadline) != std::future_status::ready) {
    bool owned;
    {
      std::lock_guard lock(mutex_);
      owned = !pending->settled;
      if (owned) {
        pending->settled = true;
        pending_.erase(id);
      }
    }
    if (owned) {
      // Tell the server to stop working on it (best effort; stdio only in 2026-07-28).
      (void)send_notification("notifications/cancelled",
                              {{"requestId", id}, {"reason", "timed out in the client"}});
      return Error{"mcp server '" + config_.name + "' did not answer " + method + " in time",
                   "timeout"};
    }
  }
  return future.get();
}

Status McpClient::send_notification(const std::string& method, Json params) {
  Json message = make_notification(method, std::move(params));
  return transport_->send(message, McpClock::now() + std::chrono::seconds(5),
                          headers_for(message));
}

Status McpClient::wait_until_ready(McpClock::time_point deadline) {
  if (!transport_->restartable()) {
    // HTTP: no process to wait for; (re)connect here when needed.
    if (ready()) return Status::ok();
    {
      std::lock_guard lock(mutex_);
      if (state_ == State::kShutdown) return Error{"mcp server '" + config_.name + "' is shut down"};
    }
    Status connected = connect_once(deadline);
    std::lock_guard lock(mutex_);
    if (connected.is_ok()) {
      state_ = State::kReady;
      ready_since_ = McpClock::now();
    }
    return connected;
  }
  std::unique_lock lock(mutex_);
  while (state_ != State::kReady) {
    if (state_ == State::kShutdown) return Error{"mcp server '" + config_.name + "' is shut down"};
    if (state_ == State::kStopped) {
      return Error{"mcp server '" + config_.name + "' is not started", "not_started"};
    }
    if (state_ == State::kRestarting && consecutive_failures_ > 1) {
      // It has failed to come back more than once: fail fast instead of stalling every call.
      std::string why = last_failure_;
      if (!last_exit_.empty() && why.find(last_exit_) == std::string::npos) {
        why += "; " + last_exit_;
      }
      return Error{"mcp server '" + config_.name + "' is unavailable (restarting): " + why,
                   "unavailable"};
    }
    if (state_cv_.wait_until(lock, deadline) == std::cv_status::timeout &&
        state_ != State::kReady) {
      return Error{"mcp server '" + config_.name + "' is not ready (" +
                   (last_failure_.empty() ? std::string("starting") : last_failure_) + ")",
                   "timeout"};
    }
  }
  return Status::ok();
}

Result<Json> McpClient::request(const std::string& method, Json params,
                                std::optional<std::chrono::milliseconds> timeout) {
  auto deadline = McpClock::now() + timeout.value_or(config_.request_timeout);
  Status ready_status = wait_until_ready(deadline);
  if (!ready_status.is_ok()) return Error{ready_status.message(), ready_status.code()};
  Result<Reply> reply = exchange(method, params, deadline);
  if (!reply.is_ok() && reply.code() == "session_expired") {
    // Streamable HTTP: the server forgot our session. Start a new one and try once more.
    note_problem("session expired; initializing again");
    transport_->reset_session();
    Status again = connect_once(deadline);
    if (!again.is_ok()) return Error{again.message(), again.code()};
    reply = exchange(method, std::move(params), deadline);
  }
  if (!reply.is_ok()) return Error{reply.message(), reply.code()};
  if (reply->is_error) {
    std::string name(json_rpc_error_name(reply->error_code));
    return Error{"mcp server '" + config_.name + "': " + method + " failed: " +
                     excerpt(reply->error_message, 500) + " (code " +
                     std::to_string(reply->error_code) + (name.empty() ? "" : ", " + name) + ")",
                 "rpc_error"};
  }
  if (!reply->result.is_object()) {
    return Error{"mcp server '" + config_.name + "': " + method + " returned a " +
                     reply->result.type_name() + " where an object was expected", "bad_reply"};
  }
  std::string result_type = reply->result.value("resultType", std::string("complete"));
  if (result_type == "input_required") {
    return Error{"mcp server '" + config_.name + "': " + method + " needs input from the user "
                 "or a model (input_required), which cove does not provide to MCP servers",
                 "unsupported"};
  }
  if (result_type != "complete") {
    return Error{"mcp server '" + config_.name + "': " + method + " returned an unknown " +
                 "resultType '" + excerpt(result_type, 40) + "'", "bad_reply"};
  }
  return std::move(reply->result);
}

Status McpClient::ping() {
  Result<Json> result = request("ping", Json::object());
  return result.status();
}

Result<McpToolResult> McpClient::call_tool(const std::string& name, const Json& arguments,
                                           std::optional<std::chrono::milliseconds> timeout) {
  Json params = {{"name", name},
                 {"arguments", arguments.is_object() ? arguments : Json::object()}};
  Result<Json> result = request("tools/call", std::move(params), timeout);
  if (!result.is_ok()) return Error{result.message(), result.code()};
  Result<McpToolResult> parsed = parse_tool_result(*result);
  if (!parsed.is_ok()) {
    return Error{"mcp server '" + config_.name + "': tool '" + name + "': " + parsed.message(),
                 "bad_reply"};
  }
  return parsed;
}

Status McpClient::connect_once(McpClock::time_point deadline) {
  std::lock_guard connect_lock(connect_mutex_);
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::kShutdown) return Error{"mcp server '" + config_.name + "' is shut down"};
  }
  Status opened = transport_->open(make_events());
  if (!opened.is_ok()) return Error{"mcp server '" + config_.name + "': " + opened.message(),
                                    opened.code()};
  Status shaken = handshake(deadline);
  if (!shaken.is_ok()) return shaken;
  bool has_tools;
  {
    std::lock_guard lock(mutex_);
    has_tools = era_ == Era::kModern || server_capabilities_.contains("tools");
  }
  std::vector<McpTool> tools;
  if (has_tools) {
    Result<std::vector<McpTool>> listed = fetch_tools(deadline);
    if (!listed.is_ok()) return Error{listed.message(), listed.code()};
    tools = std::move(*listed);
  }
  std::lock_guard lock(mutex_);
  tools_ = std::move(tools);
  return Status::ok();
}

Status McpClient::start() {
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::kShutdown) return Error{"mcp server '" + config_.name + "' is shut down"};
    if (state_ == State::kReady) return Status::ok();
    state_ = State::kConnecting;
  }
  Status connected = connect_once(McpClock::now() + config_.startup_timeout);
  bool restart = false;
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::kShutdown) return Error{"mcp server '" + config_.name + "' is shut down"};
    if (connected.is_ok()) {
      state_ = State::kReady;
      ready_since_ = McpClock::now();
      consecutive_failures_ = 0;
    } else {
      if (!last_exit_.empty() && connected.message().find(last_exit_) == std::string::npos) {
        connected = Error{connected.message() + "; " + last_exit_, connected.code()};
      }
      last_failure_ = connected.message();
      consecutive_failures_ = 2;  // calls fail fast until a background restart succeeds
      state_ = transport_->restartable() ? State::kRestarting : State::kStopped;
      restart = transport_->restartable() && !restart_queued_;
      if (restart) restart_queued_ = true;
    }
  }
  state_cv_.notify_all();
  if (!connected.is_ok()) {
    note_problem("start failed: " + connected.message());
    if (restart) enqueue([this] { restart_loop(); });
  }
  return connected;
}

void McpClient::shutdown() {
  {
    std::lock_guard lock(mutex_);
    if (state_ == State::kShutdown && !worker_.joinable()) return;
    state_ = State::kShutdown;
  }
  state_cv_.notify_all();
  fail_pending("is shutting down", "shutdown");
  {
    std::lock_guard lock(worker_mutex_);
    worker_stop_ = true;
  }
  worker_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  transport_->close();
}

}  // namespace cove::assistant
