// Route lookup and the small HTTP helpers handlers share (router.h, http.h).
#include "server/router.h"

#include <strings.h>

namespace cove::server {

std::string HttpRequest::header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && strncasecmp(key.data(), name.data(), name.size()) == 0) {
      return value;
    }
  }
  return "";
}

std::string dump_json(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void send_json(Responder& r, int status, const nlohmann::json& body, HeaderList extra) {
  r.send(status, "application/json", dump_json(body), std::move(extra));
}

std::string sse_event(std::string_view data) {
  std::string out;
  out.reserve(data.size() + 8);
  out += "data: ";
  out += data;
  out += "\n\n";
  return out;
}

const Route* Router::find(const std::string& method, const std::string& path,
                          Match& match) const {
  match = Match::kNotFound;
  for (const bool prefix : {false, true}) {
    for (const Route& route : routes_) {
      if (route.prefix != prefix) continue;
      if (prefix ? !(path.size() > route.path.size() && path.compare(0, route.path.size(),
                                                                     route.path) == 0)
                 : route.path != path) {
        continue;
      }
      if (route.method == method) {
        match = Match::kFound;
        return &route;
      }
      match = Match::kWrongMethod;
    }
    if (match == Match::kWrongMethod) return nullptr;
  }
  return nullptr;
}

}  // namespace cove::server
