#include "chat/jinja_parser.h"

#include "chat/jinja_builtins.h"

#include <initializer_list>
#include <string_view>

namespace cove::chat::jinja {

namespace {

std::string describe(const Token& token) {
  switch (token.kind) {
    case TokenKind::kEndOfInput:
      return "end of template";
    case TokenKind::kText:
      return "template text";
    case TokenKind::kExpressionEnd:
      return "'}}'";
    case TokenKind::kStatementEnd:
      return "'%}'";
    case TokenKind::kString:
      return "string literal";
    case TokenKind::kInteger:
    case TokenKind::kFloat:
      return "number " + token.text;
    default:
      return "'" + token.text + "'";
  }
}

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  Body parse_all() {
    std::string end_tag;
    return parse_body({}, "", {}, end_tag);
  }

 private:
  // Counts nesting: one level per recursive descent and per link of a left-nested chain
  // (`a + b + c` nests as (a + b) + c), so the tree's height stays within kMaxParseDepth.
  class DepthGuard {
   public:
    explicit DepthGuard(Parser& parser) : parser_(parser) { deepen(); }
    ~DepthGuard() { parser_.depth_ -= levels_; }
    void deepen() {
      ++levels_;
      if (++parser_.depth_ > kMaxParseDepth) {
        parser_.fail(parser_.peek(),
                     "template nested deeper than " + std::to_string(kMaxParseDepth) + " levels");
      }
    }

   private:
    Parser& parser_;
    int levels_ = 0;
  };

  // -------------------------------------------------------------------------------------------
  // Token access

  const Token& peek(size_t ahead = 0) const {
    size_t i = std::min(pos_ + ahead, tokens_.size() - 1);
    return tokens_[i];
  }
  const Token& next() {
    const Token& token = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return token;
  }
  bool at_operator(std::string_view op, size_t ahead = 0) const {
    return peek(ahead).kind == TokenKind::kOperator && peek(ahead).text == op;
  }
  bool at_name(std::string_view name, size_t ahead = 0) const {
    return peek(ahead).kind == TokenKind::kName && peek(ahead).text == name;
  }
  bool skip_operator(std::string_view op) {
    if (!at_operator(op)) return false;
    next();
    return true;
  }
  bool skip_name(std::string_view name) {
    if (!at_name(name)) return false;
    next();
    return true;
  }

  [[noreturn]] void fail(const Token& token, std::string message) const {
    throw TemplateError(ErrorKind::kSyntax, std::move(message), token.location);
  }
  void expect_operator(std::string_view op) {
    if (!skip_operator(op))
      fail(peek(), "expected '" + std::string(op) + "', got " + describe(peek()));
  }
  std::string expect_name(std::string_view what) {
    if (peek().kind != TokenKind::kName)
      fail(peek(), "expected " + std::string(what) + ", got " + describe(peek()));
    return next().text;
  }
  void expect_statement_end() {
    if (peek().kind != TokenKind::kStatementEnd) {
      fail(peek(), "expected end of statement '%}', got " + describe(peek()));
    }
    next();
  }

  template <class Node>
  static ExprPtr make(SourceLocation location, Node node) {
    return std::make_unique<Expr>(Expr{location, std::move(node)});
  }

  // -------------------------------------------------------------------------------------------
  // Statements

  // Parses until one of `end_tags` opens a statement (left for the caller, with `{%` and the tag
  // name consumed), or the end of input when `end_tags` is empty.
  Body parse_body(std::initializer_list<std::string_view> end_tags, std::string_view opener,
                  SourceLocation opener_location, std::string& end_tag) {
    Body body;
    while (true) {
      const Token& token = peek();
      switch (token.kind) {
        case TokenKind::kEndOfInput: {
          if (end_tags.size() == 0) return body;
          fail(token, "unexpected end of template: '" + std::string(opener) + "' at line " +
                          std::to_string(opener_location.line) + " is not closed (expected " +
                          tag_list(end_tags) + ")");
        }
        case TokenKind::kText:
          body.push_back(std::make_unique<Stmt>(Stmt{token.location, TextStmt{next().text}}));
          break;
        case TokenKind::kExpressionBegin: {
          next();
          ExprPtr value = parse_tuple();
          if (peek().kind != TokenKind::kExpressionEnd) {
            fail(peek(), "expected end of expression '}}', got " + describe(peek()));
          }
          next();
          body.push_back(
              std::make_unique<Stmt>(Stmt{token.location, OutputStmt{std::move(value)}}));
          break;
        }
        case TokenKind::kStatementBegin: {
          const Token& name = peek(1);
          if (name.kind != TokenKind::kName) fail(name, "expected a statement name after '{%'");
          for (std::string_view tag : end_tags) {
            if (name.text == tag) {
              next();
              end_tag = next().text;
              return body;
            }
          }
          if (is_closing_tag(name.text)) {
            std::string message = "unexpected '" + name.text + "'";
            if (end_tags.size() > 0) {
              message += " (expected " + tag_list(end_tags) + " for the '" + std::string(opener) +
                         "' at line " + std::to_string(opener_location.line) + ")";
            }
            fail(name, message);
          }
          next();
          parse_statement(body);
          break;
        }
        default:
          fail(token, "unexpected " + describe(token));
      }
    }
  }

  // A body that renders into a string (macro, call, filter, block set) is not inside the loop
  // around it, so `break` and `continue` there are errors rather than lost jumps.
  Body parse_captured_body(std::string_view end, std::string_view opener,
                           SourceLocation opener_location) {
    int saved_loop_depth = loop_depth_;
    loop_depth_ = 0;
    std::string end_tag;
    Body body = parse_body({end}, opener, opener_location, end_tag);
    loop_depth_ = saved_loop_depth;
    return body;
  }

  static bool is_closing_tag(std::string_view name) {
    return name.substr(0, 3) == "end" || name == "else" || name == "elif";
  }

  static std::string tag_list(std::initializer_list<std::string_view> tags) {
    std::string out;
    size_t i = 0;
    for (std::string_view tag : tags) {
      if (i > 0) out += i + 1 == tags.size() ? " or " : ", ";
      out += "'" + std::string(tag) + "'";
      ++i;
    }
    return out;
  }

  // After `{%`; the statement name is next.
  void parse_statement(Body& body) {
    DepthGuard guard(*this);
    const Token& name_token = next();
    const std::string& name = name_token.text;
    SourceLocation location = name_token.location;
    auto add = [&](auto node) {
      body.push_back(std::make_unique<Stmt>(Stmt{location, std::move(node)}));
    };
    std::string end_tag;
    if (name == "if") {
      IfStmt node;
      ExprPtr condition = parse_expression();
      expect_statement_end();
      while (true) {
        Body branch = parse_body({"elif", "else", "endif"}, "if", location, end_tag);
        node.branches.emplace_back(std::move(condition), std::move(branch));
        if (end_tag != "elif") break;
        condition = parse_expression();
        expect_statement_end();
      }
      if (end_tag == "else") {
        expect_statement_end();
        node.else_body = parse_body({"endif"}, "if", location, end_tag);
      }
      expect_statement_end();
      add(std::move(node));
    } else if (name == "for") {
      body.push_back(parse_for(location));
    } else if (name == "set") {
      parse_set(location, body);
    } else if (name == "macro") {
      MacroStmt node;
      node.name = expect_name("a macro name");
      node.parameters = parse_parameters();
      expect_statement_end();
      node.body = parse_captured_body("endmacro", "macro", location);
      expect_statement_end();
      add(std::move(node));
    } else if (name == "call") {
      CallBlockStmt node;
      if (at_operator("(")) node.caller_parameters = parse_parameters();
      node.call = parse_expression();
      if (!std::holds_alternative<CallExpr>(node.call->node)) {
        fail(name_token, "'call' needs a macro call, as in {% call my_macro(1) %}");
      }
      expect_statement_end();
      node.body = parse_captured_body("endcall", "call", location);
      expect_statement_end();
      add(std::move(node));
    } else if (name == "filter") {
      FilterBlockStmt node;
      node.filters = parse_filter_chain(/*first_needs_pipe=*/false);
      expect_statement_end();
      node.body = parse_captured_body("endfilter", "filter", location);
      expect_statement_end();
      add(std::move(node));
    } else if (name == "with") {
      WithStmt node;
      while (peek().kind != TokenKind::kStatementEnd) {
        if (!node.assignments.empty()) expect_operator(",");
        std::string target = expect_name("a variable name");
        expect_operator("=");
        node.assignments.emplace_back(std::move(target), parse_expression());
      }
      expect_statement_end();
      node.body = parse_body({"endwith"}, "with", location, end_tag);
      expect_statement_end();
      add(std::move(node));
    } else if (name == "do") {
      add(DoStmt{parse_tuple()});
      expect_statement_end();
    } else if (name == "break" || name == "continue") {
      if (loop_depth_ == 0) fail(name_token, "'" + name + "' outside a for loop");
      expect_statement_end();
      if (name == "break") {
        add(BreakStmt{});
      } else {
        add(ContinueStmt{});
      }
    } else if (name == "generation") {
      // HF's assistant-mask marker: the body renders in place.
      expect_statement_end();
      Body inner = parse_body({"endgeneration"}, "generation", location, end_tag);
      expect_statement_end();
      for (StmtPtr& stmt : inner) body.push_back(std::move(stmt));
    } else if (name == "extends" || name == "block" || name == "include" || name == "import" ||
               name == "from" || name == "autoescape" || name == "trans") {
      fail(name_token, "'" + name + "' is not supported in chat templates");
    } else {
      fail(name_token, "unknown statement '" + name + "'");
    }
  }

  StmtPtr parse_for(SourceLocation location) {
    ForStmt node;
    bool parenthesized = skip_operator("(");
    do {
      node.targets.push_back(expect_name("a loop variable"));
    } while (skip_operator(","));
    if (parenthesized) expect_operator(")");
    if (!skip_name("in")) fail(peek(), "expected 'in' in for loop, got " + describe(peek()));
    node.iterable = parse_tuple(/*allow_conditional=*/false);
    if (skip_name("if")) node.condition = parse_expression();
    if (at_name("recursive")) fail(peek(), "recursive for loops are not supported");
    expect_statement_end();
    std::string end_tag;
    ++loop_depth_;
    node.body = parse_body({"else", "endfor"}, "for", location, end_tag);
    --loop_depth_;
    if (end_tag == "else") {
      expect_statement_end();
      node.else_body = parse_body({"endfor"}, "for", location, end_tag);
    }
    expect_statement_end();
    return std::make_unique<Stmt>(Stmt{location, std::move(node)});
  }

  void parse_set(SourceLocation location, Body& body) {
    std::vector<std::string> targets;
    std::string attribute;
    targets.push_back(expect_name("a variable name"));
    if (skip_operator(".")) {
      attribute = expect_name("an attribute name");
    } else {
      while (skip_operator(",")) targets.push_back(expect_name("a variable name"));
    }
    if (skip_operator("=")) {
      ExprPtr value = parse_tuple();
      expect_statement_end();
      body.push_back(std::make_unique<Stmt>(
          Stmt{location, SetStmt{std::move(targets), std::move(attribute), std::move(value)}}));
      return;
    }
    if (targets.size() != 1 || !attribute.empty()) {
      fail(peek(), "a block set ({% set x %}...{% endset %}) assigns one plain name");
    }
    SetBlockStmt node;
    node.target = targets[0];
    if (at_operator("|")) node.filters = parse_filter_chain(/*first_needs_pipe=*/true);
    expect_statement_end();
    node.body = parse_captured_body("endset", "set", location);
    expect_statement_end();
    body.push_back(std::make_unique<Stmt>(Stmt{location, std::move(node)}));
  }

  // (a, b=1, c='x') for macros and call blocks.
  std::vector<MacroParameter> parse_parameters() {
    std::vector<MacroParameter> parameters;
    expect_operator("(");
    while (!skip_operator(")")) {
      if (!parameters.empty()) {
        expect_operator(",");
        if (skip_operator(")")) break;
      }
      MacroParameter parameter;
      parameter.name = expect_name("a parameter name");
      if (skip_operator("=")) parameter.default_value = parse_expression();
      parameters.push_back(std::move(parameter));
    }
    return parameters;
  }

  // upper | replace('a', 'b') for filter blocks and block sets.
  std::vector<ExprPtr> parse_filter_chain(bool first_needs_pipe) {
    std::vector<ExprPtr> filters;
    bool first = true;
    while ((first && !first_needs_pipe) || skip_operator("|")) {
      first = false;
      filters.push_back(parse_filter(nullptr));
    }
    return filters;
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  // A comma-separated list without brackets is a tuple: `{% set a, b = 1, 2 %}`.
  ExprPtr parse_tuple(bool allow_conditional = true) {
    SourceLocation location = peek().location;
    ExprPtr first = allow_conditional ? parse_expression() : parse_or();
    if (!at_operator(",")) return first;
    ListExpr tuple;
    tuple.tuple = true;
    tuple.items.push_back(std::move(first));
    while (skip_operator(",")) {
      if (ends_tuple()) break;
      tuple.items.push_back(allow_conditional ? parse_expression() : parse_or());
    }
    return make(location, std::move(tuple));
  }

  bool ends_tuple() const {
    TokenKind kind = peek().kind;
    return kind == TokenKind::kStatementEnd || kind == TokenKind::kExpressionEnd ||
           at_operator(")") || at_operator("=") || at_name("if");
  }

  ExprPtr parse_expression() {
    DepthGuard guard(*this);
    ExprPtr value = parse_or();
    while (at_name("if")) {
      guard.deepen();
      SourceLocation location = next().location;
      ConditionalExpr node;
      node.then_value = std::move(value);
      node.condition = parse_or();
      if (skip_name("else")) node.else_value = parse_expression();
      value = make(location, std::move(node));
    }
    return value;
  }

  ExprPtr parse_or() {
    DepthGuard guard(*this);
    ExprPtr left = parse_and();
    while (at_name("or")) {
      guard.deepen();
      SourceLocation location = next().location;
      left = make(location, BinaryExpr{BinaryOp::kOr, std::move(left), parse_and()});
    }
    return left;
  }

  ExprPtr parse_and() {
    DepthGuard guard(*this);
    ExprPtr left = parse_not();
    while (at_name("and")) {
      guard.deepen();
      SourceLocation location = next().location;
      left = make(location, BinaryExpr{BinaryOp::kAnd, std::move(left), parse_not()});
    }
    return left;
  }

  ExprPtr parse_not() {
    if (at_name("not")) {
      DepthGuard guard(*this);
      SourceLocation location = next().location;
      return make(location, UnaryExpr{UnaryOp::kNot, parse_not()});
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    SourceLocation location = peek().location;
    ExprPtr first = parse_math1();
    CompareExpr node;
    while (true) {
      const Token& token = peek();
      CompareOp op;
      if (token.kind == TokenKind::kOperator && token.text == "==") {
        op = CompareOp::kEqual;
      } else if (token.kind == TokenKind::kOperator && token.text == "!=") {
        op = CompareOp::kNotEqual;
      } else if (token.kind == TokenKind::kOperator && token.text == "<") {
        op = CompareOp::kLess;
      } else if (token.kind == TokenKind::kOperator && token.text == "<=") {
        op = CompareOp::kLessEqual;
      } else if (token.kind == TokenKind::kOperator && token.text == ">") {
        op = CompareOp::kGreater;
      } else if (token.kind == TokenKind::kOperator && token.text == ">=") {
        op = CompareOp::kGreaterEqual;
      } else if (at_name("in")) {
        op = CompareOp::kIn;
      } else if (at_name("not") && at_name("in", 1)) {
        next();
        op = CompareOp::kNotIn;
      } else {
        break;
      }
      next();
      node.rest.emplace_back(op, parse_math1());
    }
    if (node.rest.empty()) return first;
    node.first = std::move(first);
    return make(location, std::move(node));
  }

  // One level of left-associative binary operators.
  template <class Next>
  ExprPtr parse_binary_level(Next next_level,
                             std::initializer_list<std::pair<std::string_view, BinaryOp>> ops) {
    DepthGuard guard(*this);
    ExprPtr left = (this->*next_level)();
    while (true) {
      const BinaryOp* matched = nullptr;
      for (const auto& [text, op] : ops) {
        if (at_operator(text)) matched = &op;
      }
      if (matched == nullptr) return left;
      guard.deepen();
      SourceLocation location = next().location;
      left = make(location, BinaryExpr{*matched, std::move(left), (this->*next_level)()});
    }
  }

  ExprPtr parse_math1() {
    return parse_binary_level(&Parser::parse_concat,
                              {{"+", BinaryOp::kAdd}, {"-", BinaryOp::kSubtract}});
  }
  ExprPtr parse_concat() {
    return parse_binary_level(&Parser::parse_math2, {{"~", BinaryOp::kConcat}});
  }
  ExprPtr parse_math2() {
    return parse_binary_level(&Parser::parse_pow, {{"*", BinaryOp::kMultiply},
                                                   {"/", BinaryOp::kDivide},
                                                   {"//", BinaryOp::kFloorDivide},
                                                   {"%", BinaryOp::kModulo}});
  }
  ExprPtr parse_pow() {
    return parse_binary_level(&Parser::parse_unary_with_filters, {{"**", BinaryOp::kPower}});
  }
  ExprPtr parse_unary_with_filters() { return parse_unary(true); }

  ExprPtr parse_unary(bool with_filters) {
    DepthGuard guard(*this);
    SourceLocation location = peek().location;
    ExprPtr node;
    if (skip_operator("-")) {
      node = make(location, UnaryExpr{UnaryOp::kNegate, parse_unary(false)});
    } else if (skip_operator("+")) {
      node = make(location, UnaryExpr{UnaryOp::kPlus, parse_unary(false)});
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node), guard);
    if (with_filters) node = parse_filters_and_tests(std::move(node), guard);
    return node;
  }

  ExprPtr parse_primary() {
    const Token& token = peek();
    SourceLocation location = token.location;
    switch (token.kind) {
      case TokenKind::kName: {
        next();
        const std::string& name = token.text;
        if (name == "true" || name == "True") return make(location, LiteralExpr{Value(true)});
        if (name == "false" || name == "False") return make(location, LiteralExpr{Value(false)});
        if (name == "none" || name == "None") return make(location, LiteralExpr{Value::none()});
        return make(location, NameExpr{name});
      }
      case TokenKind::kString: {
        std::string text = next().text;
        while (peek().kind == TokenKind::kString) text += next().text;  // 'a' 'b' is 'ab'
        return make(location, LiteralExpr{Value(std::move(text))});
      }
      case TokenKind::kInteger:
        return make(location, LiteralExpr{Value(next().int_value)});
      case TokenKind::kFloat:
        return make(location, LiteralExpr{Value(next().float_value)});
      case TokenKind::kOperator:
        if (skip_operator("(")) {
          if (skip_operator(")")) return make(location, ListExpr{{}, /*tuple=*/true});  // ()
          ExprPtr inner = parse_tuple();
          expect_operator(")");
          return inner;
        }
        if (skip_operator("[")) {
          ListExpr list;
          while (!skip_operator("]")) {
            if (!list.items.empty()) {
              expect_operator(",");
              if (skip_operator("]")) break;
            }
            list.items.push_back(parse_expression());
          }
          return make(location, std::move(list));
        }
        if (skip_operator("{")) {
          DictExpr dict;
          while (!skip_operator("}")) {
            if (!dict.entries.empty()) {
              expect_operator(",");
              if (skip_operator("}")) break;
            }
            ExprPtr key = parse_expression();
            expect_operator(":");
            dict.entries.emplace_back(std::move(key), parse_expression());
          }
          return make(location, std::move(dict));
        }
        break;
      default:
        break;
    }
    fail(token, "unexpected " + describe(token));
  }

  // Postfix expressions (a.b, a[i], a[i:j], f(x)) are located where their object starts, so
  // an error in `messages[0].content.strip()` points at `messages`.
  ExprPtr parse_postfix(ExprPtr node, DepthGuard& guard) {
    while (true) {
      SourceLocation start = node->location;
      if (skip_operator(".")) {
        guard.deepen();
        if (peek().kind == TokenKind::kInteger) {  // messages.0 is messages[0]
          ExprPtr index = make(peek().location, LiteralExpr{Value(next().int_value)});
          node = make(start, SubscriptExpr{std::move(node), std::move(index)});
        } else {
          node = make(start, AttributeExpr{std::move(node), expect_name("an attribute name")});
        }
      } else if (skip_operator("[")) {
        guard.deepen();
        node = parse_subscript(std::move(node), start);
      } else if (skip_operator("(")) {
        guard.deepen();
        node = make(start, CallExpr{std::move(node), parse_call_arguments()});
      } else {
        return node;
      }
    }
  }

  // After `[`: an index, or a slice with up to three optional parts.
  ExprPtr parse_subscript(ExprPtr object, SourceLocation location) {
    ExprPtr start;
    if (!at_operator(":")) {
      start = parse_expression();
      if (skip_operator("]"))
        return make(location, SubscriptExpr{std::move(object), std::move(start)});
    }
    expect_operator(":");
    SliceExpr slice;
    slice.object = std::move(object);
    slice.start = std::move(start);
    if (!at_operator(":") && !at_operator("]")) slice.stop = parse_expression();
    if (skip_operator(":") && !at_operator("]")) slice.step = parse_expression();
    expect_operator("]");
    return make(location, std::move(slice));
  }

  // After `(`: positional and keyword arguments, up to and including `)`.
  CallArguments parse_call_arguments() {
    CallArguments arguments;
    bool first = true;
    while (!skip_operator(")")) {
      if (!first) {
        expect_operator(",");
        if (skip_operator(")")) break;
      }
      first = false;
      if (at_operator("*") || at_operator("**"))
        fail(peek(), "*args and **kwargs are not supported");
      if (peek().kind == TokenKind::kName && at_operator("=", 1)) {
        std::string name = next().text;
        next();
        arguments.keyword.emplace_back(std::move(name), parse_expression());
      } else {
        if (!arguments.keyword.empty())
          fail(peek(), "positional argument follows keyword argument");
        arguments.positional.push_back(parse_expression());
      }
    }
    return arguments;
  }

  ExprPtr parse_filters_and_tests(ExprPtr node, DepthGuard& guard) {
    while (true) {
      if (at_operator("|")) {
        guard.deepen();
        next();
        node = parse_filter(std::move(node));
      } else if (at_name("is")) {
        guard.deepen();
        node = parse_test(std::move(node));
      } else if (at_operator("(")) {
        guard.deepen();
        next();
        SourceLocation callee_location = node->location;
        node = make(callee_location, CallExpr{std::move(node), parse_call_arguments()});
      } else {
        return node;
      }
    }
  }

  // After `|` (or at the start of a filter block): name, optional (arguments).
  ExprPtr parse_filter(ExprPtr operand) {
    SourceLocation location = peek().location;
    FilterExpr node;
    node.operand = std::move(operand);
    const Token& name = peek();
    node.name = expect_name("a filter name");
    if (find_filter(node.name) == nullptr) fail(name, "unknown filter '" + node.name + "'");
    if (skip_operator("(")) node.arguments = parse_call_arguments();
    return make(location, std::move(node));
  }

  // At `is`: `is [not] name`, then (arguments) or one bare argument: `is divisibleby 3`.
  ExprPtr parse_test(ExprPtr operand) {
    SourceLocation location = next().location;
    TestExpr node;
    node.operand = std::move(operand);
    node.negated = skip_name("not");
    const Token& name = peek();
    node.name = expect_name("a test name");
    if (find_test(node.name) == nullptr) fail(name, "unknown test '" + node.name + "'");
    const Token& token = peek();
    if (skip_operator("(")) {
      node.arguments = parse_call_arguments();
    } else if ((token.kind == TokenKind::kName && !is_test_terminator(token.text)) ||
               token.kind == TokenKind::kString || token.kind == TokenKind::kInteger ||
               token.kind == TokenKind::kFloat || at_operator("[") || at_operator("{")) {
      DepthGuard guard(*this);
      node.arguments.positional.push_back(parse_postfix(parse_primary(), guard));
    }
    return make(location, std::move(node));
  }

  static bool is_test_terminator(std::string_view name) {
    return name == "else" || name == "or" || name == "and" || name == "is" || name == "if" ||
           name == "in" || name == "not";
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
  int loop_depth_ = 0;
};

}  // namespace

Body parse_template(const std::vector<Token>& tokens) {
  return Parser(tokens).parse_all();
}

}  // namespace cove::chat::jinja
