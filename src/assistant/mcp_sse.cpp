// Server-Sent Events parsing (see mcp_sse.h).
#include "assistant/mcp_sse.h"

namespace cove::assistant {

std::vector<SseEvent> SseParser::feed(std::string_view bytes) {
  std::vector<SseEvent> out;
  for (char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // the second half of "\r\n"
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      take_line(out);
      line_.clear();
    } else {
      line_ += c;
    }
  }
  return out;
}

void SseParser::take_line(std::vector<SseEvent>& out) {
  if (line_.empty()) {  // end of event
    if (has_data_) {
      if (!event_.data.empty() && event_.data.back() == '\n') event_.data.pop_back();
      out.push_back(std::move(event_));
    }
    event_ = SseEvent();
    has_data_ = false;
    return;
  }
  if (line_[0] == ':') return;  // comment
  std::string_view line(line_);
  size_t colon = line.find(':');
  std::string_view field = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    event_.data.append(value);
    event_.data += '\n';
    has_data_ = true;
  } else if (field == "event") {
    event_.type = std::string(value);
  } else if (field == "id") {
    event_.id = std::string(value);
  }
  // "retry" and unknown fields are ignored: we do not reconnect streams.
}

}  // namespace cove::assistant
