// A parsed Jinja template, ready to render any number of times: the public face of the Jinja
// interpreter (lexer, parser, interpreter and builtins stay behind it).
//
//   Result<Template> t = Template::parse("Hello {{ name | upper }}!");
//   Result<std::string> text = t->render({{"name", Value("cove")}});  // "Hello COVE!"
//
// Errors come back as values, never exceptions, and say where they happened:
//   "template:3:14: syntax error: unexpected 'endfor' (expected 'endif' for the 'if' at line 2)"
//   "template:1:150: raise_exception: Conversation roles must alternate user/assistant/..."
// A Template is immutable and cheap to copy (the tree is shared); renders are independent, so
// one Template may render on several threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "chat/jinja_interpreter.h"
#include "chat/jinja_lexer.h"
#include "core/result.h"

namespace cove::chat::jinja {

class Template {
 public:
  // `name` prefixes error messages.
  static Result<Template> parse(std::string_view source, const TemplateOptions& options = {},
                                std::string name = "template");

  Result<std::string> render(const Variables& variables, const RenderOptions& options = {}) const;

  const std::string& name() const { return name_; }

 private:
  Template(std::shared_ptr<const Body> body, std::string name)
      : body_(std::move(body)), name_(std::move(name)) {}

  std::shared_ptr<const Body> body_;
  std::string name_;
};

// "name:line:column: kind: message", the form every template error takes.
std::string format_error(const std::string& name, const TemplateError& error);

}  // namespace cove::chat::jinja
