// OpenAI-shaped error values (api_error.h).
#include "server/api_error.h"

namespace cove::server {

ApiError invalid_request(std::string message, std::string param, std::string code) {
  return ApiError{400, std::move(message), "invalid_request_error", std::move(param),
                  std::move(code)};
}

ApiError not_found(std::string message, std::string param, std::string code) {
  return ApiError{404, std::move(message), "invalid_request_error", std::move(param),
                  std::move(code)};
}

ApiError server_error(std::string message) {
  return ApiError{500, std::move(message), "server_error", "", ""};
}

nlohmann::json error_json(const ApiError& error) {
  nlohmann::json body;
  body["message"] = error.message;
  body["type"] = error.type;
  body["param"] = error.param.empty() ? nlohmann::json() : nlohmann::json(error.param);
  body["code"] = error.code.empty() ? nlohmann::json() : nlohmann::json(error.code);
  return nlohmann::json{{"error", std::move(body)}};
}

}  // namespace cove::server
