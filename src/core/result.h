// Error values for input that can be wrong (files, requests, config).
//
// Code that reads untrusted input returns Status or Result<T> instead of throwing; the message
// says what went wrong and where ("tiny.gguf: tensor 'blk.0.attn_q.weight' ends at byte 91234,
// past the file end (88000)"). The CLI and the server turn them into exit codes or HTTP errors.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace cove {

struct Error {
  Error() = default;
  explicit Error(std::string message, std::string code = {})
      : message(std::move(message)), code(std::move(code)) {}

  std::string message;
  std::string code;  // a machine-readable kind where callers branch on it ("queue_full"), else ""
};

// Success, or an Error with a message.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error)  // NOLINT: implicit
      : error_(std::move(error.message)), code_(std::move(error.code)), failed_(true) {}

  static Status ok() { return Status(); }
  bool is_ok() const { return !failed_; }
  explicit operator bool() const { return !failed_; }
  const std::string& message() const { return error_; }
  const std::string& code() const { return code_; }

 private:
  std::string error_;
  std::string code_;
  bool failed_ = false;
};

// A value, or an Error with a message.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : data_(std::move(value)) {}     // NOLINT: implicit by design
  Result(Error error) : data_(std::move(error)) {}  // NOLINT: implicit by design

  bool is_ok() const { return data_.index() == 0; }
  explicit operator bool() const { return is_ok(); }

  T& value() & { return std::get<0>(data_); }
  const T& value() const& { return std::get<0>(data_); }
  T&& value() && { return std::get<0>(std::move(data_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const std::string& message() const { return std::get<1>(data_).message; }
  const std::string& code() const { return std::get<1>(data_).code; }
  Error error() const { return std::get<1>(data_); }
  Status status() const { return is_ok() ? Status() : Status(std::get<1>(data_)); }

 private:
  std::variant<T, Error> data_;
};

}  // namespace cove
