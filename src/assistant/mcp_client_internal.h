// Private to the MCP client's two source files (mcp_client.cpp: requests, events, restarts;
// mcp_handshake.cpp: handshakes and tool lists). Not for other modules.
#pragma once

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>

#include "assistant/mcp_client.h"

namespace cove::assistant {

namespace mcp_detail {

inline constexpr size_t kMaxProblems = 50;
inline constexpr int kMaxToolPages = 1000;  // a server that pages forever is cut off here
inline constexpr const char* kClientName = "cove";
inline constexpr const char* kClientVersion = "0.1.0";

inline bool is_legacy_version(std::string_view version) {
  for (const char* known : kMcpLegacyVersions) {
    if (version == known) return true;
  }
  return false;
}

inline std::string supported_list() {
  std::string text = kMcpModernVersion;
  for (const char* known : kMcpLegacyVersions) text += std::string(", ") + known;
  return text;
}

inline bool valid_prefix(const std::string& name) {
  if (name.empty() || name.size() > 32) return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-';
  });
}

}  // namespace mcp_detail

// The answer to one request: a result, or the server's JSON-RPC error.
struct McpClient::Reply {
  bool is_error = false;
  Json result;
  int error_code = 0;
  std::string error_message;
  Json error_data;
};

}  // namespace cove::assistant
