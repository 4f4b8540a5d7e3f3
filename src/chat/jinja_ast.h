// The syntax tree of a parsed Jinja template: expressions (Expr) and statements (Stmt).
//
// Each node is a plain struct in a std::variant, tagged with the source position of its first
// token so render errors can say where they happened. The tree is immutable after parsing and
// owned by the Template; macros refer to their nodes by pointer while a render runs.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "chat/jinja_error.h"
#include "chat/jinja_value.h"

namespace cove::chat::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

// ---------------------------------------------------------------------------------------------
// Expressions

enum class UnaryOp { kNegate, kPlus, kNot };

enum class BinaryOp {
  kAdd,
  kSubtract,
  kMultiply,
  kDivide,       // always a float, as in Python 3
  kFloorDivide,  // //
  kModulo,
  kPower,
  kConcat,  // ~ : both sides as strings
  kAnd,     // short-circuit, returns an operand as Python does
  kOr,
};

enum class CompareOp { kEqual, kNotEqual, kLess, kLessEqual, kGreater, kGreaterEqual, kIn, kNotIn };

struct CallArguments {
  std::vector<ExprPtr> positional;
  std::vector<std::pair<std::string, ExprPtr>> keyword;
};

struct LiteralExpr {
  Value value;  // none, bool, int, float or string
};
struct NameExpr {
  std::string name;
};
struct ListExpr {  // [a, b], or the tuple (a, b)
  std::vector<ExprPtr> items;
  bool tuple = false;
};
struct DictExpr {
  std::vector<std::pair<ExprPtr, ExprPtr>> entries;
};
struct AttributeExpr {  // object.name
  ExprPtr object;
  std::string name;
};
struct SubscriptExpr {  // object[index]
  ExprPtr object;
  ExprPtr index;
};
struct SliceExpr {  // object[start:stop:step]; each part may be missing (null)
  ExprPtr object;
  ExprPtr start;
  ExprPtr stop;
  ExprPtr step;
};
struct UnaryExpr {
  UnaryOp op;
  ExprPtr operand;
};
struct BinaryExpr {
  BinaryOp op;
  ExprPtr left;
  ExprPtr right;
};
// a < b <= c: each operand is evaluated once, and the chain stops at the first false link.
struct CompareExpr {
  ExprPtr first;
  std::vector<std::pair<CompareOp, ExprPtr>> rest;
};
struct ConditionalExpr {  // then_value if condition else else_value; no else gives undefined
  ExprPtr condition;
  ExprPtr then_value;
  ExprPtr else_value;
};
struct CallExpr {
  ExprPtr callee;
  CallArguments arguments;
};
struct FilterExpr {  // operand | name(arguments); operand is null inside {% filter %} blocks
  ExprPtr operand;
  std::string name;
  CallArguments arguments;
};
struct TestExpr {  // operand is [not] name(arguments)
  ExprPtr operand;
  std::string name;
  CallArguments arguments;
  bool negated = false;
};

struct Expr {
  SourceLocation location;
  std::variant<LiteralExpr, NameExpr, ListExpr, DictExpr, AttributeExpr, SubscriptExpr, SliceExpr,
               UnaryExpr, BinaryExpr, CompareExpr, ConditionalExpr, CallExpr, FilterExpr, TestExpr>
      node;
};

// ---------------------------------------------------------------------------------------------
// Statements

struct TextStmt {
  std::string text;
};
struct OutputStmt {  // {{ value }}
  ExprPtr value;
};
struct IfStmt {  // if / elif ... / else
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body else_body;
};
struct ForStmt {  // for a, b in iterable if condition ... else ... endfor
  std::vector<std::string> targets;
  ExprPtr iterable;
  ExprPtr condition;  // may be null
  Body body;
  Body else_body;  // runs when nothing was iterated
};
struct SetStmt {  // set a = v / set a, b = v / set ns.attr = v
  std::vector<std::string> targets;
  std::string attribute;  // non-empty for `ns.attr`: targets[0] is the namespace
  ExprPtr value;
};
struct SetBlockStmt {  // set name | filters %}...{% endset
  std::string target;
  std::vector<ExprPtr> filters;  // FilterExprs with null operands, applied in order
  Body body;
};
struct MacroParameter {
  std::string name;
  ExprPtr default_value;  // may be null
};
struct MacroStmt {
  std::string name;
  std::vector<MacroParameter> parameters;
  Body body;
};
struct CallBlockStmt {  // call(params) macro(args) %}body{% endcall: body is `caller(params)`
  std::vector<MacroParameter> caller_parameters;
  ExprPtr call;  // a CallExpr
  Body body;
};
struct FilterBlockStmt {  // filter upper | trim %}...{% endfilter
  std::vector<ExprPtr> filters;
  Body body;
};
struct WithStmt {  // with a = 1 %}...{% endwith: a new scope
  std::vector<std::pair<std::string, ExprPtr>> assignments;
  Body body;
};
struct DoStmt {  // do expression: evaluate, print nothing
  ExprPtr value;
};
struct BreakStmt {};
struct ContinueStmt {};

struct Stmt {
  SourceLocation location;
  std::variant<TextStmt, OutputStmt, IfStmt, ForStmt, SetStmt, SetBlockStmt, MacroStmt,
               CallBlockStmt, FilterBlockStmt, WithStmt, DoStmt, BreakStmt, ContinueStmt>
      node;
};

}  // namespace cove::chat::jinja
