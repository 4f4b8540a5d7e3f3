#include "chat/jinja_interpreter.h"

#include <cmath>
#include <type_traits>

#include "chat/jinja_builtins.h"
#include "chat/jinja_error.h"

namespace cove::chat::jinja {

namespace {

using detail::integral;
using detail::is_integral;

bool is_numeric(const Value& v) {
  return v.is_number() || v.is_bool();
}

[[noreturn]] void throw_undefined(const Value& value) {
  const std::string& name = value.undefined_name();
  throw_render_error(name.empty() ? "value is undefined" : "'" + name + "' is undefined");
}

[[noreturn]] void throw_unsupported(std::string_view symbol, const Value& a, const Value& b) {
  throw_render_error("unsupported operand type(s) for " + std::string(symbol) + ": '" +
                     std::string(a.type_name()) + "' and '" + std::string(b.type_name()) + "'");
}

[[noreturn]] void throw_overflow() {
  throw_render_error("integer overflow");
}

// Tool-call arguments held as a mapping still concatenate as their JSON text.
const std::string* as_text(const Value& v) {
  if (v.is_string()) return &v.as_string();
  if (v.is_dict() && v.dict_object().json_text) return &*v.dict_object().json_text;
  return nullptr;
}

int64_t floor_divide(int64_t a, int64_t b) {
  if (b == 0) throw_render_error("integer division or modulo by zero");
  if (a == INT64_MIN && b == -1) throw_overflow();
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int64_t floor_modulo(int64_t a, int64_t b) {
  if (b == 0) throw_render_error("integer division or modulo by zero");
  if (b == -1) return 0;
  int64_t r = a % b;
  if (r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}

bool contains(const Value& container, const Value& item) {
  switch (container.kind()) {
    case ValueKind::kUndefined:
      return false;
    case ValueKind::kString:
      if (!item.is_string()) {
        throw_render_error("'in <string>' requires string as left operand, not " +
                           std::string(item.type_name()));
      }
      return container.as_string().find(item.as_string()) != std::string::npos;
    case ValueKind::kList:
      for (const Value& element : container.list()) {
        if (values_equal(element, item)) return true;
      }
      return false;
    case ValueKind::kDict:
      return container.dict().find(item) != nullptr;
    default:
      throw_render_error("argument of type '" + std::string(container.type_name()) +
                         "' is not iterable");
  }
}

}  // namespace

class Interpreter::DepthGuard {
 public:
  explicit DepthGuard(Interpreter& interpreter) : interpreter_(interpreter) {
    if (++interpreter_.depth_ > interpreter_.options_.limits.max_depth) {
      --interpreter_.depth_;
      throw TemplateError(ErrorKind::kLimit,
                          "template nested deeper than " +
                              std::to_string(interpreter_.options_.limits.max_depth) +
                              " levels (runaway macro recursion?)");
    }
  }
  ~DepthGuard() { --interpreter_.depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  Interpreter& interpreter_;
};

// ---------------------------------------------------------------------------------------------
// Entry points and budget

std::string Interpreter::render(const Body& body, const Variables& variables) {
  take_value_work();  // work done before this render is not ours to charge
  globals_ = std::make_shared<Scope>();
  for (auto& [name, value] : builtin_globals()) globals_->variables[name] = std::move(value);
  for (const auto& [name, value] : variables) globals_->variables[name] = value;
  std::string output;
  out_ = &output;
  struct Reset {
    Interpreter& self;
    ~Reset() {
      self.out_ = nullptr;
      self.globals_.reset();
    }
  } reset{*this};
  exec_body(body, globals_);
  return output;
}

void Interpreter::charge(uint64_t units) {
  uint64_t value_work = take_value_work();  // comparisons, printing, cycle checks since last time
  units = units > UINT64_MAX - value_work ? UINT64_MAX : units + value_work;
  if (units > options_.limits.max_work - work_) {
    throw TemplateError(ErrorKind::kLimit, "template exceeded its work budget of " +
                                               std::to_string(options_.limits.max_work) +
                                               " units (too much looping or copying)");
  }
  work_ += units;
}

void Interpreter::check_string_size(size_t bytes) const {
  if (bytes > options_.limits.max_output_bytes) {
    throw TemplateError(ErrorKind::kLimit, "string of " + std::to_string(bytes) +
                                               " bytes exceeds the output limit of " +
                                               std::to_string(options_.limits.max_output_bytes));
  }
}

void Interpreter::write(std::string_view text) {
  if (suspended_bytes_ + out_->size() + text.size() > options_.limits.max_output_bytes) {
    throw TemplateError(ErrorKind::kLimit, "output exceeds the limit of " +
                                               std::to_string(options_.limits.max_output_bytes) +
                                               " bytes");
  }
  charge_bytes(text.size());
  out_->append(text);
}

std::string Interpreter::capture(const Body& body, const ScopePtr& scope) {
  std::string buffer;
  struct Restore {
    Interpreter& self;
    std::string* out;
    size_t suspended;
    ~Restore() {
      self.out_ = out;
      self.suspended_bytes_ = suspended;
    }
  } restore{*this, out_, suspended_bytes_};
  suspended_bytes_ += out_->size();
  out_ = &buffer;
  exec_body(body, scope);  // the parser keeps break and continue out of captured bodies
  return buffer;
}

Value Interpreter::lookup(const Scope& scope, const std::string& name) {
  for (const Scope* s = &scope; s != nullptr; s = s->parent.get()) {
    auto it = s->variables.find(name);
    if (it != s->variables.end()) return it->second;
  }
  return Value::undefined(name);
}

void Interpreter::assign(Scope& scope, const std::string& name, Value value) {
  scope.variables.insert_or_assign(name, std::move(value));
}

// ---------------------------------------------------------------------------------------------
// Statements

Interpreter::Flow Interpreter::exec_body(const Body& body, const ScopePtr& scope) {
  for (const StmtPtr& stmt : body) {
    Flow flow = exec(*stmt, scope);
    if (flow != Flow::kNormal) return flow;
  }
  return Flow::kNormal;
}

Interpreter::Flow Interpreter::exec(const Stmt& stmt, const ScopePtr& scope) {
  DepthGuard guard(*this);
  charge(1);
  try {
    return std::visit(
        [&](const auto& node) -> Flow {
          using Node = std::decay_t<decltype(node)>;
          if constexpr (std::is_same_v<Node, TextStmt>) {
            write(node.text);
          } else if constexpr (std::is_same_v<Node, OutputStmt>) {
            Value value = eval(*node.value, *scope);
            write(value.is_string() ? value.as_string() : to_str(value));
          } else if constexpr (std::is_same_v<Node, IfStmt>) {
            for (const auto& [condition, branch] : node.branches) {
              if (eval(*condition, *scope).truthy()) return exec_body(branch, scope);
            }
            return exec_body(node.else_body, scope);
          } else if constexpr (std::is_same_v<Node, ForStmt>) {
            return exec_for(node, scope);
          } else if constexpr (std::is_same_v<Node, SetStmt>) {
            exec_set(node, *scope);
          } else if constexpr (std::is_same_v<Node, SetBlockStmt>) {
            Value value(capture(node.body, scope));
            for (const ExprPtr& filter : node.filters) {
              value = apply_filter(std::get<FilterExpr>(filter->node), std::move(value), *scope);
            }
            assign(*scope, node.target, std::move(value));
          } else if constexpr (std::is_same_v<Node, MacroStmt>) {
            assign(*scope, node.name, make_macro(node, scope));
          } else if constexpr (std::is_same_v<Node, CallBlockStmt>) {
            exec_call_block(node, scope);
          } else if constexpr (std::is_same_v<Node, FilterBlockStmt>) {
            Value value(capture(node.body, scope));
            for (const ExprPtr& filter : node.filters) {
              value = apply_filter(std::get<FilterExpr>(filter->node), std::move(value), *scope);
            }
            write(to_str(value));
          } else if constexpr (std::is_same_v<Node, WithStmt>) {
            auto inner = std::make_shared<Scope>();
            inner->parent = scope;
            for (const auto& [name, value] : node.assignments) {
              assign(*inner, name, eval(*value, *inner));
            }
            return exec_body(node.body, inner);
          } else if constexpr (std::is_same_v<Node, DoStmt>) {
            eval(*node.value, *scope);
          } else if constexpr (std::is_same_v<Node, BreakStmt>) {
            return Flow::kBreak;
          } else if constexpr (std::is_same_v<Node, ContinueStmt>) {
            return Flow::kContinue;
          }
          return Flow::kNormal;
        },
        stmt.node);
  } catch (TemplateError& error) {
    if (!error.has_location()) error.set_location(stmt.location);
    throw;
  }
}

Interpreter::Flow Interpreter::exec_for(const ForStmt& node, const ScopePtr& scope) {
  ValueList items = iterate(eval(*node.iterable, *scope));
  charge(items.size());
  auto bind_targets = [&](Scope& target, const Value& item) {
    if (node.targets.size() == 1) {
      assign(target, node.targets[0], item);
      return;
    }
    ValueList parts = iterate(item);
    if (parts.size() != node.targets.size()) {
      throw_render_error("cannot unpack " + std::to_string(parts.size()) + " values into " +
                         std::to_string(node.targets.size()) + " loop variables");
    }
    for (size_t i = 0; i < parts.size(); ++i) assign(target, node.targets[i], parts[i]);
  };

  if (node.condition) {  // `for x in xs if cond`: loop.index and loop.last count kept items
    ValueList kept;
    for (Value& item : items) {
      Scope probe;
      probe.parent = scope;
      bind_targets(probe, item);
      if (eval(*node.condition, probe).truthy()) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (items.empty()) return exec_body(node.else_body, scope);

  // One loop object for the whole loop, updated in place each iteration, as Jinja's own loop
  // context is (a template that keeps `loop` sees it change). Updating beats rebuilding: no
  // allocation per field per iteration.
  const auto n = static_cast<int64_t>(items.size());
  auto cycle_index = std::make_shared<int64_t>(0);
  Value loop = Value::make_dict();
  ValueDict& fields = loop.dict();
  auto field = [&fields](const char* key, Value value) {
    if (Value* slot = fields.find(key)) {
      *slot = std::move(value);
    } else {
      fields.set(Value(key), std::move(value));
    }
  };
  field("cycle", Value::make_function(
                     "loop.cycle", [cycle_index](Interpreter&, const Value&, Arguments& arguments) {
                       if (arguments.positional.empty())
                         throw_render_error("no items for cycling given");
                       size_t i = static_cast<size_t>(*cycle_index) % arguments.positional.size();
                       return arguments.positional[i];
                     }));
  for (int64_t i = 0; i < n; ++i) {
    auto iteration = std::make_shared<Scope>();
    iteration->parent = scope;
    bind_targets(*iteration, items[static_cast<size_t>(i)]);
    *cycle_index = i;
    field("index", i + 1);
    field("index0", i);
    field("revindex", n - i);
    field("revindex0", n - i - 1);
    field("first", i == 0);
    field("last", i == n - 1);
    field("length", n);
    field("depth", 1);
    field("depth0", 0);
    field("previtem",
          i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("loop.previtem"));
    field("nextitem",
          i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value::undefined("loop.nextitem"));
    assign(*iteration, "loop", loop);
    if (exec_body(node.body, iteration) == Flow::kBreak) break;
  }
  return Flow::kNormal;
}

void Interpreter::exec_set(const SetStmt& node, Scope& scope) {
  Value value = eval(*node.value, scope);
  if (!node.attribute.empty()) {
    Value target = lookup(scope, node.targets[0]);
    if (!target.is_namespace()) {
      throw_render_error("cannot assign attribute '" + node.attribute + "' on '" + node.targets[0] +
                         "' (a " + std::string(target.type_name()) +
                         "): only namespace() objects take attribute assignment");
    }
    bool cycle = value_contains(value, target.identity());
    charge(0);  // the search's cost
    if (cycle) throw_render_error("cannot store namespace '" + node.targets[0] + "' inside itself");
    target.attributes().set(Value(node.attribute), std::move(value));
    return;
  }
  if (node.targets.size() == 1) {
    assign(scope, node.targets[0], std::move(value));
    return;
  }
  ValueList parts = iterate(value);
  if (parts.size() != node.targets.size()) {
    throw_render_error("cannot unpack " + std::to_string(parts.size()) + " values into " +
                       std::to_string(node.targets.size()) + " variables");
  }
  for (size_t i = 0; i < parts.size(); ++i) assign(scope, node.targets[i], parts[i]);
}

// ---------------------------------------------------------------------------------------------
// Macros and calls

Value Interpreter::make_macro(const MacroStmt& macro, const ScopePtr& scope) {
  // The macro sees the scope it was defined in. It holds it weakly: that scope holds the macro,
  // and a strong reference would be a cycle that never frees.
  std::weak_ptr<Scope> closure = scope;
  const MacroStmt* node = &macro;
  return Value::make_function(
      macro.name, [node, closure](Interpreter& interpreter, const Value&, Arguments& arguments) {
        return interpreter.call_macro(node->name, node->parameters, node->body, closure, arguments);
      });
}

Value Interpreter::call_macro(std::string_view name, const std::vector<MacroParameter>& parameters,
                              const Body& body, const std::weak_ptr<Scope>& closure,
                              Arguments& arguments) {
  auto scope = std::make_shared<Scope>();
  scope->parent = closure.lock();
  if (!scope->parent) scope->parent = globals_;  // defined in a loop iteration that has ended

  std::string quoted = "macro '" + std::string(name) + "'";
  if (arguments.positional.size() > parameters.size()) {
    throw_render_error(quoted + " takes not more than " + std::to_string(parameters.size()) +
                       " argument(s)");
  }
  std::vector<bool> bound(parameters.size(), false);
  for (size_t i = 0; i < arguments.positional.size(); ++i) {
    assign(*scope, parameters[i].name, std::move(arguments.positional[i]));
    bound[i] = true;
  }
  for (auto& [keyword, value] : arguments.keyword) {
    if (keyword == "caller") {  // passed by a {% call %} block
      assign(*scope, "caller", std::move(value));
      continue;
    }
    size_t i = 0;
    while (i < parameters.size() && parameters[i].name != keyword) ++i;
    if (i == parameters.size()) throw_render_error(quoted + " has no parameter '" + keyword + "'");
    if (bound[i]) throw_render_error(quoted + " got multiple values for '" + keyword + "'");
    assign(*scope, keyword, std::move(value));
    bound[i] = true;
  }
  for (size_t i = 0; i < parameters.size(); ++i) {
    if (bound[i]) continue;
    const MacroParameter& parameter = parameters[i];
    assign(*scope, parameter.name,
           parameter.default_value ? eval(*parameter.default_value, *scope)
                                   : Value::undefined(parameter.name));
  }
  return Value(capture(body, scope));
}

void Interpreter::exec_call_block(const CallBlockStmt& node, const ScopePtr& scope) {
  const auto& call_expr = std::get<CallExpr>(node.call->node);
  Value callee = eval(*call_expr.callee, *scope);
  Arguments arguments = eval_arguments(call_expr.arguments, *scope);
  std::weak_ptr<Scope> closure = scope;
  const CallBlockStmt* block = &node;
  arguments.keyword.emplace_back(
      "caller",
      Value::make_function("caller", [block, closure](Interpreter& interpreter, const Value&,
                                                      Arguments& caller_arguments) {
        return interpreter.call_macro("caller", block->caller_parameters, block->body, closure,
                                      caller_arguments);
      }));
  Value result = call(callee, arguments);
  write(to_str(result));
}

Value Interpreter::call(const Value& callee, Arguments& arguments) {
  if (callee.is_undefined()) throw_undefined(callee);
  if (!callee.is_callable()) {
    throw_render_error("'" + std::string(callee.type_name()) + "' object is not callable");
  }
  DepthGuard guard(*this);
  const Callable& callable = callee.callable();
  return callable.function(*this, callable.bound_self, arguments);
}

Arguments Interpreter::eval_arguments(const CallArguments& arguments, Scope& scope) {
  Arguments out;
  out.positional.reserve(arguments.positional.size());
  for (const ExprPtr& argument : arguments.positional) {
    out.positional.push_back(eval(*argument, scope));
  }
  for (const auto& [name, argument] : arguments.keyword) {
    out.keyword.emplace_back(name, eval(*argument, scope));
  }
  return out;
}

Value Interpreter::apply_filter(const FilterExpr& node, Value input, Scope& scope) {
  FilterFunction filter = find_filter(node.name);
  if (filter == nullptr) throw_render_error("unknown filter '" + node.name + "'");
  Arguments arguments = eval_arguments(node.arguments, scope);
  return filter(*this, input, arguments);
}

// ---------------------------------------------------------------------------------------------
// Expressions

Value Interpreter::eval(const Expr& expr, Scope& scope) {
  DepthGuard guard(*this);
  charge(1);
  try {
    return eval_node(expr, scope);
  } catch (TemplateError& error) {
    if (!error.has_location()) error.set_location(expr.location);
    throw;
  }
}

Value Interpreter::eval_node(const Expr& expr, Scope& scope) {
  return std::visit(
      [&](const auto& node) -> Value {
        using Node = std::decay_t<decltype(node)>;
        if constexpr (std::is_same_v<Node, LiteralExpr>) {
          return node.value;
        } else if constexpr (std::is_same_v<Node, NameExpr>) {
          return lookup(scope, node.name);
        } else if constexpr (std::is_same_v<Node, ListExpr>) {
          ValueList items;
          items.reserve(node.items.size());
          for (const ExprPtr& item : node.items) items.push_back(eval(*item, scope));
          return node.tuple ? Value::make_tuple(std::move(items))
                            : Value::make_list(std::move(items));
        } else if constexpr (std::is_same_v<Node, DictExpr>) {
          Value dict = Value::make_dict();
          for (const auto& [key, value] : node.entries) {
            Value k = eval(*key, scope);
            dict.dict().set(std::move(k), eval(*value, scope));
          }
          return dict;
        } else if constexpr (std::is_same_v<Node, AttributeExpr>) {
          return get_attribute(eval(*node.object, scope), node.name);
        } else if constexpr (std::is_same_v<Node, SubscriptExpr>) {
          Value object = eval(*node.object, scope);
          return get_item(object, eval(*node.index, scope));
        } else if constexpr (std::is_same_v<Node, SliceExpr>) {
          Value object = eval(*node.object, scope);
          auto part = [&](const ExprPtr& e) { return e ? eval(*e, scope) : Value::none(); };
          Value start = part(node.start);
          Value stop = part(node.stop);
          Value step = part(node.step);
          Value result = slice_value(object, start, stop, step);
          if (result.is_list()) charge(result.list().size());
          if (result.is_string()) charge_bytes(result.as_string().size());
          return result;
        } else if constexpr (std::is_same_v<Node, UnaryExpr>) {
          Value operand = eval(*node.operand, scope);
          if (node.op == UnaryOp::kNot) return !operand.truthy();
          if (operand.is_undefined()) throw_undefined(operand);
          if (operand.is_float()) {
            return node.op == UnaryOp::kNegate ? -operand.as_double() : operand.as_double();
          }
          if (!is_integral(operand)) {
            throw_render_error("bad operand type for unary " +
                               std::string(node.op == UnaryOp::kNegate ? "-" : "+") + ": '" +
                               std::string(operand.type_name()) + "'");
          }
          int64_t i = integral(operand);
          if (node.op == UnaryOp::kPlus) return i;
          if (i == INT64_MIN) throw_overflow();
          return -i;
        } else if constexpr (std::is_same_v<Node, BinaryExpr>) {
          Value left = eval(*node.left, scope);
          if (node.op == BinaryOp::kAnd) return left.truthy() ? eval(*node.right, scope) : left;
          if (node.op == BinaryOp::kOr) return left.truthy() ? left : eval(*node.right, scope);
          return binary(node.op, left, eval(*node.right, scope));
        } else if constexpr (std::is_same_v<Node, CompareExpr>) {
          return eval_compare(node, scope);
        } else if constexpr (std::is_same_v<Node, ConditionalExpr>) {
          if (eval(*node.condition, scope).truthy()) return eval(*node.then_value, scope);
          return node.else_value ? eval(*node.else_value, scope) : Value::undefined("");
        } else if constexpr (std::is_same_v<Node, CallExpr>) {
          Value callee = eval(*node.callee, scope);
          Arguments arguments = eval_arguments(node.arguments, scope);
          return call(callee, arguments);
        } else if constexpr (std::is_same_v<Node, FilterExpr>) {
          return apply_filter(node, eval(*node.operand, scope), scope);
        } else if constexpr (std::is_same_v<Node, TestExpr>) {
          TestFunction test = find_test(node.name);
          if (test == nullptr) throw_render_error("unknown test '" + node.name + "'");
          Value operand = eval(*node.operand, scope);
          Arguments arguments = eval_arguments(node.arguments, scope);
          return test(*this, operand, arguments) != node.negated;
        }
      },
      expr.node);
}

Value Interpreter::eval_compare(const CompareExpr& node, Scope& scope) {
  Value left = eval(*node.first, scope);
  for (const auto& [op, right_expr] : node.rest) {
    Value right = eval(*right_expr, scope);
    bool holds = false;
    switch (op) {
      case CompareOp::kEqual:
        holds = values_equal(left, right);
        break;
      case CompareOp::kNotEqual:
        holds = !values_equal(left, right);
        break;
      case CompareOp::kLess:
        holds = compare_values(left, right, "<") < 0;
        break;
      case CompareOp::kLessEqual:
        holds = compare_values(left, right, "<=") <= 0;
        break;
      case CompareOp::kGreater:
        holds = compare_values(left, right, ">") > 0;
        break;
      case CompareOp::kGreaterEqual:
        holds = compare_values(left, right, ">=") >= 0;
        break;
      case CompareOp::kIn:
        holds = contains(right, left);
        break;
      case CompareOp::kNotIn:
        holds = !contains(right, left);
        break;
    }
    if (!holds) return false;
    left = std::move(right);
  }
  return true;
}

Value Interpreter::binary(BinaryOp op, const Value& a, const Value& b) {
  if (op == BinaryOp::kConcat) {
    std::string left = to_str(a);
    std::string right = to_str(b);
    check_string_size(left.size() + right.size());
    charge_bytes(left.size() + right.size());
    return left + right;
  }
  if (a.is_undefined()) throw_undefined(a);
  if (b.is_undefined()) throw_undefined(b);
  const bool ints = is_integral(a) && is_integral(b);
  const bool numbers = is_numeric(a) && is_numeric(b);
  switch (op) {
    case BinaryOp::kAdd: {
      if (ints) {
        int64_t r;
        if (__builtin_add_overflow(integral(a), integral(b), &r)) throw_overflow();
        return r;
      }
      if (numbers) return a.as_double() + b.as_double();
      const std::string* x = as_text(a);
      const std::string* y = as_text(b);
      if (x != nullptr && y != nullptr && (a.is_string() || b.is_string())) {
        check_string_size(x->size() + y->size());
        charge_bytes(x->size() + y->size());
        return *x + *y;
      }
      if (a.is_list() && b.is_list()) {
        charge(a.list().size() + b.list().size());  // before copying: the budget bounds memory
        ValueList items;
        items.reserve(a.list().size() + b.list().size());
        items.insert(items.end(), a.list().begin(), a.list().end());
        items.insert(items.end(), b.list().begin(), b.list().end());
        return Value::make_list(std::move(items));
      }
      throw_unsupported("+", a, b);
    }
    case BinaryOp::kSubtract: {
      if (ints) {
        int64_t r;
        if (__builtin_sub_overflow(integral(a), integral(b), &r)) throw_overflow();
        return r;
      }
      if (numbers) return a.as_double() - b.as_double();
      throw_unsupported("-", a, b);
    }
    case BinaryOp::kMultiply: {
      if (ints) {
        int64_t r;
        if (__builtin_mul_overflow(integral(a), integral(b), &r)) throw_overflow();
        return r;
      }
      if (numbers) return a.as_double() * b.as_double();
      const Value& sequence = is_integral(a) ? b : a;
      const Value& count = is_integral(a) ? a : b;
      if (is_integral(count) && (sequence.is_string() || sequence.is_list())) {
        int64_t n = std::max<int64_t>(0, integral(count));
        if (sequence.is_string()) {
          const std::string& s = sequence.as_string();
          uint64_t bytes;
          if (__builtin_mul_overflow(static_cast<uint64_t>(s.size()), static_cast<uint64_t>(n),
                                     &bytes)) {
            bytes = UINT64_MAX;
          }
          check_string_size(bytes);
          charge_bytes(bytes);
          std::string out;
          for (int64_t i = 0; i < n; ++i) out += s;
          return out;
        }
        const ValueList& items = sequence.list();
        uint64_t copies;
        if (__builtin_mul_overflow(static_cast<uint64_t>(items.size()), static_cast<uint64_t>(n),
                                   &copies)) {
          copies = UINT64_MAX;
        }
        charge(copies);
        ValueList out;
        for (int64_t i = 0; i < n; ++i) out.insert(out.end(), items.begin(), items.end());
        return Value::make_list(std::move(out));
      }
      throw_unsupported("*", a, b);
    }
    case BinaryOp::kDivide:
      if (!numbers) throw_unsupported("/", a, b);
      if (b.as_double() == 0.0) throw_render_error("division by zero");
      return a.as_double() / b.as_double();
    case BinaryOp::kFloorDivide:
      if (ints) return floor_divide(integral(a), integral(b));
      if (!numbers) throw_unsupported("//", a, b);
      if (b.as_double() == 0.0) throw_render_error("float floor division by zero");
      return std::floor(a.as_double() / b.as_double());
    case BinaryOp::kModulo: {
      if (ints) return floor_modulo(integral(a), integral(b));
      if (a.is_string()) {  // '%s: %d' % (name, count)
        return percent_format(*this, a.as_string(), b.is_tuple() ? b.list() : ValueList{b});
      }
      if (numbers) {
        double x = a.as_double(), y = b.as_double();
        if (y == 0.0) throw_render_error("float modulo");
        double r = std::fmod(x, y);
        if (r == 0.0) return std::copysign(0.0, y);  // Python: the sign of the divisor
        if ((r < 0) != (y < 0)) r += y;
        return r;
      }
      throw_unsupported("%", a, b);
    }
    case BinaryOp::kPower: {
      if (ints && integral(b) >= 0) {
        int64_t base = integral(a), exponent = integral(b), result = 1;
        while (exponent > 0) {
          if ((exponent & 1) && __builtin_mul_overflow(result, base, &result)) throw_overflow();
          exponent >>= 1;
          if (exponent > 0 && __builtin_mul_overflow(base, base, &base)) throw_overflow();
        }
        return result;
      }
      if (!numbers) throw_unsupported("**", a, b);
      if (a.as_double() == 0.0 && b.as_double() < 0) {
        throw_render_error("0.0 cannot be raised to a negative power");
      }
      return std::pow(a.as_double(), b.as_double());
    }
    default:
      throw_render_error("internal error: unexpected operator");
  }
}

}  // namespace cove::chat::jinja
