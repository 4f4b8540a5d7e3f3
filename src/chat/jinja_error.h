// The one error type of the Jinja interpreter, and where in the template an error happened.
//
// Inside src/chat the lexer, parser, builtins and interpreter report problems by throwing
// TemplateError: an error can start many calls deep in expression evaluation, and unwinding to
// the single public entry point (Template::parse / Template::render) keeps every evaluator free
// of error plumbing. No exception leaves the chat layer: those entry points catch it and return
// a cove::Error whose message reads "template:3:14: syntax error: ...".
#pragma once

#include <exception>
#include <string>
#include <utility>

namespace cove::chat::jinja {

// 1-based line and column of a character in the template source; 0 means "not known yet".
struct SourceLocation {
  int line = 0;
  int column = 0;
};

enum class ErrorKind {
  kSyntax,  // the template text is not valid Jinja (or uses an unsupported statement)
  kRender,  // a type error, an unknown filter, a bad argument while rendering
  kRaised,  // the template called raise_exception(message)
  kLimit,   // a hostile-template guard tripped: output size, call depth, evaluation budget
};

class TemplateError : public std::exception {
 public:
  TemplateError(ErrorKind kind, std::string message, SourceLocation location = {})
      : kind_(kind), message_(std::move(message)), location_(location) {}

  ErrorKind kind() const { return kind_; }
  const std::string& message() const { return message_; }
  const SourceLocation& location() const { return location_; }
  bool has_location() const { return location_.line > 0; }
  // The innermost node that sees the error first gives it its position.
  void set_location(SourceLocation location) { location_ = location; }
  const char* what() const noexcept override { return message_.c_str(); }

 private:
  ErrorKind kind_;
  std::string message_;
  SourceLocation location_;
};

// Shorthand for the common case: a render-time error whose position the caller fills in.
[[noreturn]] inline void throw_render_error(std::string message) {
  throw TemplateError(ErrorKind::kRender, std::move(message));
}

}  // namespace cove::chat::jinja
