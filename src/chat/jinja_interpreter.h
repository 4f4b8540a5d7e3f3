// Renders a parsed template: walks the syntax tree, evaluates expressions with Python's
// semantics, and appends text to the output.
//
// Scoping is Jinja's: a for loop body gets a fresh scope per iteration (a `set` inside a loop is
// gone after it, hence namespace()), a macro call gets its own scope whose parent is the scope
// the macro was defined in, and `if` opens no scope.
//
// A hostile template cannot loop forever (there is no while), but it can still try to exhaust
// the machine, so every render runs under RenderLimits: output size, nesting depth (macro
// recursion included) and a work budget charged per evaluated node and per byte or item copied.
#pragma once

#include <cstddef>
#include <cstdint>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace cove::chat::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{10} << 20;  // also caps any single string a template builds
  int max_depth = 400;  // nested evaluation: expressions, blocks and macro calls together
  uint64_t max_work = 10'000'000;  // ~1 unit per node evaluated, 1 per 16 bytes or item copied
};

struct RenderOptions {
  RenderLimits limits;
  // The time strftime_now formats (local time); unset means the system clock at render time.
  std::optional<std::time_t> fixed_time;
};

using Variables = std::vector<std::pair<std::string, Value>>;

class Interpreter {
 public:
  explicit Interpreter(const RenderOptions& options) : options_(options) {}

  // Renders `body` with the builtin globals, then `variables` over them. Throws TemplateError.
  std::string render(const Body& body, const Variables& variables);

  // --- For the builtins ---
  const RenderOptions& options() const { return options_; }
  // Charges the work budget; throws TemplateError(kLimit) when it runs out.
  void charge(uint64_t units);
  void charge_bytes(size_t bytes) { charge(bytes / 16 + 1); }
  // Throws when a string of `bytes` would exceed the output limit.
  void check_string_size(size_t bytes) const;
  // Calls a function value (builtin, method or macro).
  Value call(const Value& callee, Arguments& arguments);

 private:
  struct Scope {
    std::unordered_map<std::string, Value> variables;
    std::shared_ptr<Scope> parent;
  };
  using ScopePtr = std::shared_ptr<Scope>;
  enum class Flow { kNormal, kBreak, kContinue };
  class DepthGuard;

  Flow exec_body(const Body& body, const ScopePtr& scope);
  Flow exec(const Stmt& stmt, const ScopePtr& scope);
  Flow exec_for(const ForStmt& node, const ScopePtr& scope);
  void exec_set(const SetStmt& node, Scope& scope);
  void exec_call_block(const CallBlockStmt& node, const ScopePtr& scope);

  Value eval(const Expr& expr, Scope& scope);
  Value eval_node(const Expr& expr, Scope& scope);
  Value eval_compare(const CompareExpr& node, Scope& scope);
  Arguments eval_arguments(const CallArguments& arguments, Scope& scope);
  Value apply_filter(const FilterExpr& node, Value input, Scope& scope);
  Value binary(BinaryOp op, const Value& left, const Value& right);

  Value make_macro(const MacroStmt& macro, const ScopePtr& scope);
  Value call_macro(std::string_view name, const std::vector<MacroParameter>& parameters,
                   const Body& body, const std::weak_ptr<Scope>& closure, Arguments& arguments);
  std::string capture(const Body& body, const ScopePtr& scope);
  void write(std::string_view text);

  static Value lookup(const Scope& scope, const std::string& name);
  static void assign(Scope& scope, const std::string& name, Value value);

  RenderOptions options_;
  ScopePtr globals_;
  std::string* out_ = nullptr;
  size_t suspended_bytes_ = 0;  // output held by buffers that a capture has set aside
  int depth_ = 0;
  uint64_t work_ = 0;
};

}  // namespace cove::chat::jinja
