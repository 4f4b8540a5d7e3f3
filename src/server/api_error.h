// Errors an API request can end in, and their OpenAI JSON form:
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "...", "code": "..."}}
//
// Request parsing and preparation return ApiResult<T>: a value, or an ApiError carrying the HTTP
// status it maps to. The HTTP layer never sees exceptions from these paths.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

namespace cove::server {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type = "invalid_request_error";
  std::string param;   // the request field at fault, "" when none
  std::string code;    // machine-readable kind, "" when none
  int retry_after_s = 0;  // > 0: send a Retry-After header (429)
};

ApiError invalid_request(std::string message, std::string param = "", std::string code = "");
ApiError not_found(std::string message, std::string param = "", std::string code = "");
ApiError server_error(std::string message);

// The OpenAI error object; null param/code when empty.
nlohmann::json error_json(const ApiError& error);

template <class T>
class [[nodiscard]] ApiResult {
 public:
  ApiResult(T value) : data_(std::move(value)) {}         // NOLINT: implicit by design
  ApiResult(ApiError error) : data_(std::move(error)) {}  // NOLINT: implicit by design

  bool is_ok() const { return data_.index() == 0; }
  explicit operator bool() const { return is_ok(); }
  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const ApiError& error() const { return std::get<1>(data_); }

 private:
  std::variant<T, ApiError> data_;
};

}  // namespace cove::server
