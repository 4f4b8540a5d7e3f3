#include "chat/jinja_template.h"

#include <exception>

#include "chat/jinja_parser.h"

namespace cove::chat::jinja {

std::string format_error(const std::string& name, const TemplateError& error) {
  std::string out = name;
  if (error.has_location()) {
    out +=
        ":" + std::to_string(error.location().line) + ":" + std::to_string(error.location().column);
  }
  switch (error.kind()) {
    case ErrorKind::kSyntax:
      out += ": syntax error: ";
      break;
    case ErrorKind::kRender:
      out += ": error: ";
      break;
    case ErrorKind::kRaised:
      out += ": raise_exception: ";
      break;
    case ErrorKind::kLimit:
      out += ": limit exceeded: ";
      break;
  }
  return out + error.message();
}

Result<Template> Template::parse(std::string_view source, const TemplateOptions& options,
                                 std::string name) {
  try {
    std::vector<Token> tokens = tokenize(source, options);
    auto body = std::make_shared<const Body>(parse_template(tokens));
    return Template(std::move(body), std::move(name));
  } catch (const TemplateError& error) {
    return Error{format_error(name, error)};
  } catch (const std::exception& error) {  // out of memory, or a bug: never crash the caller
    return Error{name + ": internal error: " + error.what()};
  }
}

Result<std::string> Template::render(const Variables& variables,
                                     const RenderOptions& options) const {
  try {
    Interpreter interpreter(options);
    return interpreter.render(*body_, variables);
  } catch (const TemplateError& error) {
    return Error{format_error(name_, error)};
  } catch (const std::exception& error) {  // out of memory, or a bug: never crash the caller
    return Error{name_ + ": internal error: " + error.what()};
  }
}

}  // namespace cove::chat::jinja
