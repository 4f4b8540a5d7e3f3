// Routes: (method, path) -> handler. Each API registers its own routes (register_openai_routes,
// and the same way an Ollama or WebSocket file adds its own), so adding an API never edits
// another API's handlers. Every route has a short name used as the metrics label. Exact paths
// win over prefix routes.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "server/http.h"

namespace cove::server {

using Handler = std::function<void(const HttpRequest& request, ResponderPtr responder)>;

struct Route {
  std::string method;
  std::string path;
  std::string name;          // metrics label, e.g. "chat_completions"
  Handler handler;
  bool needs_auth = true;    // false: answered without the API key (GET /health)
  // true: `path` is a prefix ending in '/' and the rest of the request path is a parameter
  // ("/v1/conversations/" matches "/v1/conversations/ID"; the bare prefix does not match).
  bool prefix = false;
};

class Router {
 public:
  void add(Route route) { routes_.push_back(std::move(route)); }

  enum class Match { kFound, kWrongMethod, kNotFound };
  // The route for the request; `match` says why there is none.
  const Route* find(const std::string& method, const std::string& path, Match& match) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace cove::server
