// A Server-Sent Events parser for MCP's Streamable HTTP responses (text/event-stream).
//
// Bytes go in as they arrive, in chunks of any size; complete events come out. Lines end with
// "\n", "\r\n" or "\r"; "data:" lines of one event are joined with "\n"; lines starting with ':'
// are comments (keep-alives); an empty line ends the event. Follows the WHATWG SSE rules for the
// fields MCP uses (event, data, id, retry).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cove::assistant {

struct SseEvent {
  std::string type = "message";  // the "event:" field; "message" when absent
  std::string data;
  std::string id;
};

class SseParser {
 public:
  // Feeds bytes; returns the events they completed.
  std::vector<SseEvent> feed(std::string_view bytes);
  // Bytes held for an unfinished line or event (to cap memory on a misbehaving stream).
  size_t pending_bytes() const { return line_.size() + event_.data.size(); }

 private:
  void take_line(std::vector<SseEvent>& out);

  std::string line_;
  SseEvent event_;
  bool has_data_ = false;
  bool after_cr_ = false;  // the previous chunk ended with '\r': a following '\n' belongs to it
};

}  // namespace cove::assistant
