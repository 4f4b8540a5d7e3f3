// Tests for the chat-template layer: the Jinja interpreter (src/chat/jinja_*) and ChatTemplate.
//
// What they prove:
//   - each Jinja feature a chat template uses renders exactly what Jinja 3 renders with HF's
//     settings (trim_blocks, lstrip_blocks); the expected strings are Jinja's own output, written
//     out by hand and cross-checked against Python Jinja 3.1 while developing;
//   - errors are values with a line and column (syntax errors, unknown filters and tests,
//     raise_exception, type errors), and hostile templates hit a limit instead of crashing;
//   - the published chat templates of each model family (embedded below, and Phi-3's read from
//     the shared GGUF vocab) give the exact prompt layout of that family for a system + user +
//     assistant + user conversation, and for tool calls where the family has them.
#include "chat/chat_template.h"

#include <gtest/gtest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "chat/jinja_template.h"
#include "chat/jinja_value.h"
#include "gguf/gguf.h"

namespace cove::chat {
namespace {

using jinja::RenderLimits;
using jinja::RenderOptions;
using jinja::Template;
using jinja::TemplateOptions;
using jinja::Value;
using jinja::Variables;
using Json = nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------
// Helpers

Variables to_variables(const Json& context) {
  Variables variables;
  for (auto it = context.begin(); it != context.end(); ++it) {
    variables.emplace_back(it.key(), Value::from_json(it.value()));
  }
  return variables;
}

// Renders with HF's settings; an error comes back as "ERROR: <message>" so that one EXPECT_EQ
// shows either mismatch.
std::string render(std::string_view source, const Json& context = Json::object(),
                   const RenderOptions& options = {}, const TemplateOptions& parse_options = {}) {
  Result<Template> compiled = Template::parse(source, parse_options);
  if (!compiled) return "ERROR: " + compiled.message();
  Result<std::string> text = compiled->render(to_variables(context), options);
  if (!text) return "ERROR: " + text.message();
  return *text;
}

// The error message of a template that must fail, or "(no error)".
std::string error_of(std::string_view source, const Json& context = Json::object(),
                     const RenderOptions& options = {}) {
  Result<Template> compiled = Template::parse(source);
  if (!compiled) return compiled.message();
  Result<std::string> text = compiled->render(to_variables(context), options);
  return text ? "(no error)" : text.message();
}

// ---------------------------------------------------------------------------------------------
// Text and whitespace control

TEST(JinjaWhitespace, PlainTextPassesThrough) {
  EXPECT_EQ(render("Hello, world"), "Hello, world");
  EXPECT_EQ(render(""), "");
  EXPECT_EQ(render("a { b } c }} d %}"), "a { b } c }} d %}");
}

TEST(JinjaWhitespace, TrimBlocksDropsTheNewlineAfterABlockTag) {
  EXPECT_EQ(render("{% if true %}\nyes\n{% endif %}\nend"), "yes\nend");
  // Not after an expression tag.
  EXPECT_EQ(render("{{ 'x' }}\ny"), "x\ny");
}

TEST(JinjaWhitespace, LstripBlocksDropsIndentBeforeABlockTag) {
  EXPECT_EQ(render("<ul>\n  {% for x in ['a','b'] %}\n    <li>{{ x }}</li>\n  {% endfor %}\n</ul>"),
            "<ul>\n    <li>a</li>\n    <li>b</li>\n</ul>");
  // Only at the start of a line: text before the tag on the same line stays.
  EXPECT_EQ(render("a  {% if true %}\nb{% endif %}"), "a  b");
  EXPECT_EQ(render("{% if true %}  {% if true %}x{% endif %}{% endif %}"), "  x");
  // A line start that follows an expression tag counts too.
  EXPECT_EQ(render("{{ 'x' }}\n  {% if true %}y{% endif %}"), "x\ny");
}

TEST(JinjaWhitespace, MinusStripsAllWhitespaceOnItsSide) {
  EXPECT_EQ(render("{%- for x in [1,2] -%}\n  [{{ x }}]\n{%- endfor -%}"), "[1][2]");
  EXPECT_EQ(render("a   {{- 'b' -}}   c"), "abc");
  EXPECT_EQ(render("{{- '  a  ' -}}"), "  a  ");  // strips template text, not values
}

TEST(JinjaWhitespace, PlusTurnsLstripAndTrimOffForOneTag) {
  EXPECT_EQ(render("  {%+ if true %}x{% endif +%}\ny"), "  x\ny");
}

TEST(JinjaWhitespace, CommentsVanishAndFollowTheBlockRules) {
  EXPECT_EQ(render("a\n  {# comment #}\nb"), "a\nb");
  EXPECT_EQ(render("{# c #}x{#- c -#}  y"), "xy");
  EXPECT_EQ(render("a\n  {# c #}  \nb"), "a\n  \nb");
}

TEST(JinjaWhitespace, RawBlocksAreVerbatim) {
  EXPECT_EQ(render("{% raw %}{{ not rendered }}{% endraw %}"), "{{ not rendered }}");
  EXPECT_EQ(render("a\n{%- raw -%}\n {{ x }} \n{%- endraw %}\nb"), "a{{ x }}b");
}

TEST(JinjaWhitespace, OneTrailingNewlineIsDroppedUnlessKept) {
  EXPECT_EQ(render("x\n"), "x");
  EXPECT_EQ(render("x\n\n"), "x\n");
  TemplateOptions keep;
  keep.keep_trailing_newline = true;
  EXPECT_EQ(render("x\n", Json::object(), {}, keep), "x\n");
}

TEST(JinjaWhitespace, LineEndingsAreNormalized) {
  EXPECT_EQ(render("a\r\nb\rc"), "a\nb\nc");
}

TEST(JinjaWhitespace, OptionsCanBeTurnedOff) {
  TemplateOptions plain;
  plain.trim_blocks = false;
  plain.lstrip_blocks = false;
  EXPECT_EQ(render("  {% if true %}\nx{% endif %}", Json::object(), {}, plain), "  \nx");
}

// ---------------------------------------------------------------------------------------------
// Expressions

TEST(JinjaExpressions, LiteralsPrintAsPython) {
  EXPECT_EQ(render("{{ 42 }} {{ -7 }} {{ 1_000 }} {{ 2.5 }} {{ 2.0 }} {{ 1e3 }}"),
            "42 -7 1000 2.5 2.0 1000.0");
  EXPECT_EQ(render("{{ true }} {{ false }} {{ none }} {{ True }} {{ None }}"),
            "True False None True None");
  EXPECT_EQ(render("{{ [1, 'a', none, true, 1.5, {'k': 'v'}] }}"),
            "[1, 'a', None, True, 1.5, {'k': 'v'}]");
  EXPECT_EQ(render("{{ (1, 2) }} {{ (1,) }} {{ () }}"), "(1, 2) (1,) ()");
  EXPECT_EQ(render(R"({{ "it's" }} {{ ["it's", 'q"q', 'a\'b"c'] }})"),
            R"(it's ["it's", 'q"q', 'a\'b"c'])");
}

TEST(JinjaExpressions, FloatsPrintWithPythonRepr) {
  EXPECT_EQ(render("{{ 0.1 + 0.2 }} {{ 1e16 }} {{ 1e15 }} {{ 1e-5 }} {{ 0.0001 }} {{ -0.0 }}"),
            "0.30000000000000004 1e+16 1000000000000000.0 1e-05 0.0001 -0.0");
  EXPECT_EQ(jinja::format_float(123456789.123456789), "123456789.12345679");
  EXPECT_EQ(jinja::format_float(1.5e300), "1.5e+300");
  EXPECT_EQ(jinja::format_float(1.0 / 0.0), "inf");
}

TEST(JinjaExpressions, StringEscapes) {
  EXPECT_EQ(render(R"({{ 'a\tb\u00e9\x41\q' }})"),
            "a\tb\xC3\xA9"
            "A\\q");
  EXPECT_EQ(render(R"({{ "a\nb" }} {{ 'a' "b" }})"), "a\nb ab");
}

TEST(JinjaExpressions, AttributeAndSubscriptAccess) {
  Json context = {{"m", {{"role", "user"}, {"parts", {1, 2, 3}}}}};
  EXPECT_EQ(
      render("{{ m.role }} {{ m['role'] }} {{ m.parts[1] }} {{ m.parts[-1] }} {{ m.parts.0 }}",
             context),
      "user user 2 3 1");
  EXPECT_EQ(render("{{ 'abc'[1] }} {{ 'abc'[-1] }} {{ {'a': {'b': 'c'}}.a.b }}"), "b c c");
  // Missing keys and indexes are undefined, which prints as nothing.
  EXPECT_EQ(render("[{{ m.missing }}][{{ m.parts[10] }}][{{ m['nope'] }}]", context), "[][][]");
}

TEST(JinjaExpressions, SlicesFollowPython) {
  EXPECT_EQ(render("{{ [1, 2, 3][::-1] }} {{ [1, 2, 3][1:] }} {{ [1, 2, 3][:-1] }}"),
            "[3, 2, 1] [2, 3] [1, 2]");
  EXPECT_EQ(
      render("{{ 'abcdef'[1:5:2] }} {{ [1, 2, 3][::-2] }} {{ [1, 2, 3][5:] }} {{ 'abc'[-10:2] }}"),
      "bd [3, 1] [] ab");
  // Strings slice by character, not byte.
  EXPECT_EQ(render("{{ 'h\xC3\xA9llo'[::-1] }} {{ 'h\xC3\xA9llo'|length }}"), "oll\xC3\xA9h 5");
}

TEST(JinjaExpressions, Arithmetic) {
  EXPECT_EQ(render("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 7 / 2 }} "
                   "{{ 10 / 5 }}"),
            "3 -4 2 -2 1024 3.5 2.0");
  EXPECT_EQ(render("{{ 5 // 2.0 }} {{ -5 % 2.5 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }}"),
            "2.0 0.0 0.5 64 4");
  EXPECT_EQ(render("{{ ((1 + 2) * 3) - 4 / 2 }} {{ 'ab' * 2 }} {{ [1] * 2 }} {{ 'a' + 'b' }}"),
            "7.0 abab [1, 1] ab");
  EXPECT_EQ(render("{{ [1] + [2] }} {{ true + 1 }}"), "[1, 2] 2");
  EXPECT_EQ(render("{{ '%s=%d' % ('a', 5) }} {{ '%.2f' % 3.14159 }} {{ '%d%%' % 3.7 }}"),
            "a=5 3.14 3%");
}

TEST(JinjaExpressions, TildeConcatenatesAsStringsAndBindsTighterThanPlus) {
  EXPECT_EQ(render("{{ 'x' ~ 1 ~ 2.5 ~ none ~ [1] ~ undefined_name }}"), "x12.5None[1]");
  EXPECT_EQ(error_of("{{ 1 + 2 ~ 3 }}"),
            "template:1:6: error: unsupported operand type(s) for +: 'int' and 'str'");
}

TEST(JinjaExpressions, ComparisonsAndLogic) {
  EXPECT_EQ(render("{{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 'a'] < [1, 'b'] }}"),
            "True True True True");
  EXPECT_EQ(render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ not 1 == 2 }} {{ {'a': 1} == {'a': 1} }}"),
            "True False True True");
  // and/or return an operand, as in Python.
  EXPECT_EQ(render("{{ true and 'x' }} {{ false or 'y' }} {{ none or 0 }} {{ 1 and [] }}"),
            "x y 0 []");
  EXPECT_EQ(render("{{ not true or true }} {{ not (true or true) }}"), "True False");
}

TEST(JinjaExpressions, MembershipOperators) {
  EXPECT_EQ(render("{{ 1 in [1, 2] }} {{ 'a' not in 'abc' }} {{ 'k' in {'k': 1} }} {{ 3 in [] }}"),
            "True False True False");
  EXPECT_EQ(render("{{ 'x' in undefined_name }}"), "False");
}

TEST(JinjaExpressions, InlineIfElse) {
  EXPECT_EQ(render("{{ 'a' if true else 'b' }} {{ 1 if 1 > 2 else 2 if 2 > 3 else 3 }}"), "a 3");
  EXPECT_EQ(render("[{{ 'a' if false }}]"), "[]");  // no else: undefined
}

TEST(JinjaExpressions, FiltersBindToTheOperandOnTheirLeft) {
  EXPECT_EQ(render("{{ 'a' + 'b' | upper }} {{ -2 | abs }} {{ 'x' ~ 'y' | upper }}"), "aB 2 xY");
  EXPECT_EQ(render("{{ 'a,b'.split(',') | join('-') | upper }}"), "A-B");
}

TEST(JinjaExpressions, StringMethods) {
  EXPECT_EQ(render("{{ '  x  '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  x '.lstrip() }}|"
                   "{{ ' x  '.rstrip() }}|"),
            "x|a|x | x|");
  EXPECT_EQ(render("{{ 'a b  c'.split() }} {{ 'a,b,,c'.split(',', 1) }} {{ ''.split(',') }}"),
            "['a', 'b', 'c'] ['a', 'b,,c'] ['']");
  EXPECT_EQ(render("{{ 'abc'.startswith('ab') }} {{ 'abc'.startswith(('x', 'a')) }} "
                   "{{ 'abc'.endswith('bc') }}"),
            "True True True");
  EXPECT_EQ(render("{{ 'a-b'.upper() }} {{ 'HeLLo'.lower() }} {{ \"they're bill's\".title() }} "
                   "{{ 'hELLO'.capitalize() }}"),
            "A-B hello They'Re Bill'S Hello");
  EXPECT_EQ(render("{{ 'aaa'.replace('a', 'b', 2) }} {{ 'ab'.replace('', '-') }} "
                   "{{ 'aaa'.count('a') }} {{ 'abc'.find('c') }} {{ ','.join(['a', 'b']) }}"),
            "bba -a-b- 3 2 a,b");
  EXPECT_EQ(render("{{ 'a\\nb\\r\\nc'.splitlines() }}"), "['a', 'b', 'c']");
}

TEST(JinjaExpressions, ListAndDictMethods) {
  EXPECT_EQ(render("{% set l = [1] %}{% set _ = l.append(2) %}{{ l }} {{ l.pop() }} {{ l }} "
                   "{{ [1, 2, 2].count(2) }} {{ [1, 2].index(2) }}"),
            "[1, 2] 2 [1] 2 1");
  EXPECT_EQ(render("{% set d = {'b': 2, 'a': 1} %}{{ d.items()|list }} {{ d.keys()|list }} "
                   "{{ d.values()|list }} {{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 5) }}"),
            "[('b', 2), ('a', 1)] ['b', 'a'] [2, 1] 1 None 5");
  EXPECT_EQ(render("{% set d = {'a': 1} %}{% set _ = d.update({'b': 2}) %}{{ d }} "
                   "{{ d.pop('a') }} {{ d }}"),
            "{'a': 1, 'b': 2} 1 {'b': 2}");
}

TEST(JinjaExpressions, DictKeysFollowPythonHashing) {
  EXPECT_EQ(render("{% set d = {1: 'int', 'k': 'str'} %}{{ d[1.0] }} {{ d[true] }} {{ d['k'] }}"),
            "int int str");
}

// ---------------------------------------------------------------------------------------------
// Statements

TEST(JinjaStatements, IfElifElse) {
  const char* source = "{% if x is not defined %}undef{% elif x %}truthy{% else %}falsy{% endif %}";
  EXPECT_EQ(render(source), "undef");
  EXPECT_EQ(render(source, {{"x", 1}}), "truthy");
  EXPECT_EQ(render(source, {{"x", ""}}), "falsy");
}

TEST(JinjaStatements, ForLoopVariables) {
  EXPECT_EQ(render("{% for i in range(3) %}{{ loop.index }}/{{ loop.index0 }}/{{ loop.revindex }}/"
                   "{{ loop.revindex0 }}/{{ loop.first }}/{{ loop.last }}/{{ loop.length }};"
                   "{% endfor %}"),
            "1/0/3/2/True/False/3;2/1/2/1/False/False/3;3/2/1/0/False/True/3;");
  EXPECT_EQ(render("{% for a in [1, 2, 3] %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}"),
            "-2;1-3;2-;");
  EXPECT_EQ(render("{% for i in range(3) %}{{ loop.cycle('a', 'b') }}{% endfor %}"), "aba");
}

TEST(JinjaStatements, ForElseRunsOnlyForAnEmptyLoop) {
  EXPECT_EQ(render("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(render("{% for x in [1] %}a{% else %}empty{% endfor %}"), "a");
  EXPECT_EQ(render("{% for x in undefined_name %}a{% else %}empty{% endfor %}"), "empty");
}

TEST(JinjaStatements, LoopFilterCountsOnlyKeptItems) {
  EXPECT_EQ(render("{% for x in [1, 2, 3, 4] if x is even %}{{ loop.index }}/{{ loop.length }}:"
                   "{{ x }}{{ ',' if not loop.last }}{% endfor %}"),
            "1/2:2,2/2:4");
}

TEST(JinjaStatements, TupleUnpacking) {
  EXPECT_EQ(render("{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }};{% endfor %}"),
            "a=1;b=2;");
  EXPECT_EQ(render("{% set a, b = 1, 2 %}{{ a }}{{ b }} {% set t = 1, 2 %}{{ t }}"), "12 (1, 2)");
}

TEST(JinjaStatements, BreakAndContinue) {
  EXPECT_EQ(render("{% for x in range(5) %}{% if x == 1 %}{% continue %}{% endif %}"
                   "{% if x == 3 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
            "02");
}

TEST(JinjaStatements, LoopScopeHidesInnerSets) {
  // A set inside a loop lives for one iteration; the outer value shows until it is shadowed.
  EXPECT_EQ(render("{% set x = 5 %}{% for i in [1, 2] %}{{ x }}{% set x = i %}{{ x }};{% endfor %}"
                   "{{ x }}"),
            "51;52;5");
  EXPECT_EQ(render("{% for i in [1, 2] %}{% if loop.first %}{% set y = 1 %}{% endif %}[{{ y }}]"
                   "{% endfor %}"),
            "[1][]");
  // `if` opens no scope.
  EXPECT_EQ(render("{% if true %}{% set y = 1 %}{% endif %}{{ y }}"), "1");
}

TEST(JinjaStatements, NamespaceCarriesValuesOutOfLoops) {
  EXPECT_EQ(render("{% set ns = namespace(total=0, names=[]) %}{% for i in range(4) %}"
                   "{% set ns.total = ns.total + i %}{% set ns.names = ns.names + [i|string] %}"
                   "{% endfor %}{{ ns.total }} {{ ns.names|join(',') }}"),
            "6 0,1,2,3");
  EXPECT_EQ(render("{% set ns = namespace() %}{% set ns.found = false %}{{ ns.found }}"), "False");
  EXPECT_EQ(render("{% set ns = namespace({'a': 1}) %}{{ ns.a }}"), "1");
}

TEST(JinjaStatements, BlockSetCapturesOutput) {
  EXPECT_EQ(render("{%- set x -%}\n  inner {{ 1 + 1 }}\n{%- endset -%}\n[{{ x }}]"), "[inner 2]");
  EXPECT_EQ(render("{% set x | upper %}abc{% endset %}{{ x }}"), "ABC");
}

TEST(JinjaStatements, MacrosWithDefaultsAndKeywords) {
  const char* source =
      "{% set g = 1 %}{% macro m(a, b=2) %}{{ a }}{{ b }}{{ g }}{{ h }}{% endmacro %}"
      "{% set h = 3 %}{{ m(1) }}|{{ m(1, b=5) }}|{{ m(b=7, a=0) }}";
  EXPECT_EQ(render(source), "1213|1513|0713");
  EXPECT_EQ(render("{% macro greet(name, punct='!') -%}\n  Hello {{ name }}{{ punct }}\n"
                   "{%- endmacro %}\n{{ greet('Bob') }}\n{{ greet('Al', punct='?') }}"),
            "Hello Bob!\nHello Al?");
  EXPECT_EQ(error_of("{% macro m() %}x{% endmacro %}{{ m(1) }}"),
            "template:1:34: error: macro 'm' takes not more than 0 argument(s)");
}

TEST(JinjaStatements, RecursiveMacro) {
  EXPECT_EQ(
      render("{%- macro walk(items) -%}{%- for item in items -%}"
             "{%- if item is iterable -%}[{{ walk(item) }}]{%- else -%}{{ item }}{%- endif -%}"
             "{%- endfor -%}{%- endmacro -%}{{ walk([1, [2, [3]], 4]) }}"),
      "1[2[3]]4");
}

TEST(JinjaStatements, CallBlocks) {
  EXPECT_EQ(render("{% macro m(a) %}[{{ caller() }}{{ a }}]{% endmacro %}"
                   "{% call m(1) %}body{% endcall %}"),
            "[body1]");
  EXPECT_EQ(render("{% macro m(a) %}[{{ caller(a) }}]{% endmacro %}"
                   "{% call(v) m(1) %}body{{ v }}{% endcall %}"),
            "[body1]");
}

TEST(JinjaStatements, FilterWithAndDoBlocks) {
  EXPECT_EQ(render("{% filter upper %}hello {{ 'world' }}{% endfilter %}"), "HELLO WORLD");
  EXPECT_EQ(render("{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}[{{ a }}]"), "3[]");
  EXPECT_EQ(render("{% set l = [] %}{% do l.append(1) %}{{ l }}"), "[1]");
}

TEST(JinjaStatements, GenerationBlockRendersInPlace) {
  EXPECT_EQ(render("a{% generation %}b{{ 1 }}{% endgeneration %}c"), "ab1c");
}

// ---------------------------------------------------------------------------------------------
// Filters

TEST(JinjaFilters, StringFilters) {
  EXPECT_EQ(
      render("{{ '  x '|trim }}|{{ 'xax'|trim('x') }}|{{ 'Hello'|upper }}|{{ 'Hello'|lower }}|"
             "{{ 'hELLO'|capitalize }}|{{ \"they're bill's friends\"|title }}"),
      "x|a|HELLO|hello|Hello|They're Bill's Friends");
  EXPECT_EQ(render("{{ 'Hello World'|replace('o', '0') }} {{ 'aaa'|replace('a', 'b', 1) }}"),
            "Hell0 W0rld baa");
  EXPECT_EQ(render("{{ 'a\\nb'|indent(2) }}|{{ 'a\\nb'|indent(2, true) }}|{{ 'a\\n\\nb'|indent }}"),
            "a\n  b|  a\n  b|a\n\n    b");
  EXPECT_EQ(render("{{ 'x'|center(5) }}|{{ '%s=%d'|format('a', 5) }}|{{ 'a b  c'|wordcount }}"),
            "  x  |a=5|3");
  EXPECT_EQ(render("{{ '<a & b>'|e }} {{ '<b>'|safe }}"), "&lt;a &amp; b&gt; <b>");
}

TEST(JinjaFilters, LengthFirstLastJoin) {
  EXPECT_EQ(render("{{ [1, 2]|length }} {{ 'abc'|count }} {{ {'a': 1}|length }} "
                   "{{ undefined_name|length }}"),
            "2 3 1 0");
  EXPECT_EQ(render("{{ [1, 2]|first }} {{ [1, 2]|last }} {{ 'abc'|first }} [{{ []|first }}]"),
            "1 2 a []");
  EXPECT_EQ(render("{{ [1, 2, 3]|join('-') }} {{ ['a', 'b']|join }} {{ [1, none]|join(',') }} "
                   "{{ [{'a': 1}, {'a': 2}]|join(',', attribute='a') }}"),
            "1-2-3 ab 1,None 1,2");
}

TEST(JinjaFilters, DefaultFilter) {
  EXPECT_EQ(render("{{ x|default('d') }} {{ none|default('d') }} {{ ''|default('d', true) }} "
                   "{{ ''|default('e', boolean=true) }} [{{ x|d }}] {{ 0|d(5) }}"),
            "d None d e [] 0");
}

TEST(JinjaFilters, ConversionFilters) {
  EXPECT_EQ(render("{{ 3.7|int }} {{ '3.7'|int }} {{ '12'|int }} {{ ' 5 '|int }} {{ 'x'|int }} "
                   "{{ 'x'|int(-1) }} {{ true|int }} {{ 'ff'|int(0, 16) }}"),
            "3 3 12 5 0 -1 1 255");
  EXPECT_EQ(render("{{ '3.5'|float }} {{ 'x'|float }} {{ 2|float }}"), "3.5 0.0 2.0");
  EXPECT_EQ(render("{{ 5|string }} {{ none|string }} {{ [1]|string }} {{ 'ab'|list }} "
                   "{{ {'a': 1}|list }}"),
            "5 None [1] ['a', 'b'] ['a']");
  EXPECT_EQ(render("{{ -3|abs }} {{ -3.5|abs }}"), "3 3.5");
}

TEST(JinjaFilters, RoundHalvesToEven) {
  EXPECT_EQ(render("{{ 2.5|round }} {{ 3.5|round }} {{ 2.567|round(2) }} {{ 7|round }} "
                   "{{ 3.21|round(1, 'ceil') }} {{ 3.5|round(method='floor') }}"),
            "2.0 4.0 2.57 7 3.3 3.0");
}

TEST(JinjaFilters, MapSelectRejectWithTests) {
  Json context = {
      {"messages",
       {{{"role", "user"}, {"content", "hi"}}, {{"role", "assistant"}, {"content", "yo"}}}}};
  EXPECT_EQ(
      render("{{ messages|map(attribute='role')|join(',') }} "
             "{{ messages|selectattr('role', 'eq', 'user')|list|length }} "
             "{{ messages|rejectattr('role', 'equalto', 'user')|map(attribute='content')|first }}",
             context),
      "user,assistant 1 yo");
  EXPECT_EQ(render("{{ ['a', 'B']|map('upper')|list }} {{ [1, 2, 3]|select('odd')|list }} "
                   "{{ [1, 2, 3]|reject('odd')|list }} {{ [0, 1, '']|select|list }}"),
            "['A', 'B'] [1, 3] [2] [1]");
  EXPECT_EQ(render("{{ [1, 2, 3]|select('gt', 1)|list }} {{ [1, 2, 3]|select('==', 2)|list }} "
                   "{{ [{'a': 1}, {'b': 2}]|selectattr('a')|list }} "
                   "{{ [{'a': 1}, {'b': 2}]|rejectattr('a', 'defined')|list }}"),
            "[2, 3] [2] [{'a': 1}] [{'b': 2}]");
  EXPECT_EQ(render("{{ [{'f': {'n': 'x'}}]|map(attribute='f.n')|list }}"), "['x']");
}

TEST(JinjaFilters, UniqueSortReverse) {
  EXPECT_EQ(render("{{ [1, 2, 1]|unique|list }} {{ ['a', 'A', 'b']|unique|list }} "
                   "{{ ['a', 'A']|unique(case_sensitive=true)|list }}"),
            "[1, 2] ['a', 'b'] ['a', 'A']");
  EXPECT_EQ(render("{{ [3, 1, 2]|sort }} {{ [3, 1, 2]|sort(reverse=true) }} "
                   "{{ ['b', 'A', 'a']|sort }} {{ ['b', 'A', 'a']|sort(case_sensitive=true) }}"),
            "[1, 2, 3] [3, 2, 1] ['A', 'a', 'b'] ['A', 'a', 'b']");
  EXPECT_EQ(render("{{ [{'n': 'b'}, {'n': 'a'}]|sort(attribute='n')|map(attribute='n')|join }}"),
            "ab");
  EXPECT_EQ(render("{{ [1, 2]|reverse|list }} {{ 'abc'|reverse }}"), "[2, 1] cba");
}

TEST(JinjaFilters, ItemsAndDictsort) {
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2}|items|list }} {{ {'b': 1, 'a': 2}|dictsort }} "
                   "{{ {'b': 1, 'a': 2}|dictsort(by='value', reverse=true) }}"),
            "[('b', 1), ('a', 2)] [('a', 2), ('b', 1)] [('a', 2), ('b', 1)]");
  EXPECT_EQ(render("{% for k, v in {'x': 1, 'y': [1, 2]}|dictsort %}{{ k }}={{ v|tojson }}"
                   "{% if not loop.last %}, {% endif %}{% endfor %}"),
            "x=1, y=[1, 2]");
}

TEST(JinjaFilters, BatchSumMinMax) {
  EXPECT_EQ(render("{{ [1, 2, 3]|batch(2)|list }} {{ [1, 2, 3]|batch(2, 0)|list }}"),
            "[[1, 2], [3]] [[1, 2], [3, 0]]");
  EXPECT_EQ(
      render("{{ [1, 2, 3]|sum }} {{ [1.5, 2]|sum }} {{ [{'n': 2}, {'n': 3}]|sum(attribute='n') }} "
             "{{ [1, 3, 2]|max }} {{ [1, 3, 2]|min }} [{{ []|max }}]"),
      "6 3.5 5 3 1 []");
}

TEST(JinjaFilters, TojsonMatchesHfJsonDumps) {
  // HF's tojson: json.dumps with ensure_ascii=False, no HTML escaping, key order kept.
  EXPECT_EQ(render("{{ {'b': 'é', 'a': [1, 2.5, none, true], '<': '&'}|tojson }}"),
            "{\"b\": \"\xC3\xA9\", \"a\": [1, 2.5, null, true], \"<\": \"&\"}");
  EXPECT_EQ(render("{{ {'a': 'x', 'b': [1, {}], 'c': []}|tojson(indent=2) }}"),
            "{\n  \"a\": \"x\",\n  \"b\": [\n    1,\n    {}\n  ],\n  \"c\": []\n}");
  EXPECT_EQ(render("{{ 'x\"y\\\\z\\n\\u0001'|tojson }}"), "\"x\\\"y\\\\z\\n\\u0001\"");
  EXPECT_EQ(render("{{ {'b': 1, 'a': 2}|tojson(sort_keys=true) }} "
                   "{{ {'a': 1, 'b': [2]}|tojson(separators=(',', ':')) }} "
                   "{{ '\xC3\xA9\xF0\x9F\x98\x80'|tojson(ensure_ascii=true) }}"),
            "{\"a\": 2, \"b\": 1} {\"a\":1,\"b\":[2]} \"\\u00e9\\ud83d\\ude00\"");
  EXPECT_EQ(render("{{ 1e20|tojson }} {{ 0.5|tojson }} {{ {1: 2, none: 3}|tojson }}"),
            "1e+20 0.5 {\"1\": 2, \"null\": 3}");
}

TEST(JinjaFilters, AttrFilter) {
  EXPECT_EQ(render("{{ {'k': 'v'}|attr('k') }} {{ ('abc'|attr('upper'))() }}"), "v ABC");
}

// ---------------------------------------------------------------------------------------------
// Tests (`is ...`)

TEST(JinjaTests, TypeTests) {
  EXPECT_EQ(render("{{ x is defined }} {{ x is undefined }} {{ none is none }} {{ 'a' is string }} "
                   "{{ 1 is number }} {{ 1.5 is number }} {{ true is number }} {{ 1 is integer }} "
                   "{{ 1.0 is integer }} {{ 1.0 is float }}"),
            "False True True True True True True True False True");
  EXPECT_EQ(render("{{ {} is mapping }} {{ [] is mapping }} {{ 'abc' is iterable }} "
                   "{{ [] is iterable }} {{ 1 is iterable }} {{ 'abc' is sequence }} "
                   "{{ {} is sequence }} {{ x is iterable }}"),
            "True False True True False True True True");
  EXPECT_EQ(render("{{ true is boolean }} {{ 1 is boolean }} {{ true is true }} {{ 1 is true }} "
                   "{{ false is false }} {{ range is callable }}"),
            "True False True False True True");
}

TEST(JinjaTests, ValueTests) {
  EXPECT_EQ(render("{{ 3 is odd }} {{ 4 is even }} {{ 0 is odd }} {{ 9 is divisibleby 3 }} "
                   "{{ 7 is divisibleby(3) }}"),
            "True True False True False");
  EXPECT_EQ(render("{{ 5 is eq 5 }} {{ 5 is equalto 5 }} {{ 2 is in [1, 2] }} {{ 1 is ne 2 }} "
                   "{{ 1 is lt 2 }} {{ 2 is ge 3 }} {{ 'A' is upper }} {{ 'a' is lower }}"),
            "True True True True True False True True");
  EXPECT_EQ(render("{{ x is not defined }} {{ none is not none }}"), "True False");
}

// ---------------------------------------------------------------------------------------------
// Undefined

TEST(JinjaUndefined, RendersEmptyAndIsFalsy) {
  EXPECT_EQ(render("[{{ x }}]{% if x %}yes{% else %}no{% endif %}{% if not x %}!{% endif %}"),
            "[]no!");
  EXPECT_EQ(render("{{ x == y }} {{ x == none }} {{ x|length }} {{ x|list }}"), "True False 0 []");
}

TEST(JinjaUndefined, AttributesOfUndefinedAreUndefined) {
  EXPECT_EQ(render("[{{ x.y }}][{{ x.y.z }}][{{ x['a'].b }}] {{ x.y.z is defined }}"),
            "[][][] False");
}

TEST(JinjaUndefined, ArithmeticOnUndefinedIsAnError) {
  EXPECT_EQ(error_of("{{ x + 1 }}"), "template:1:6: error: 'x' is undefined");
  EXPECT_EQ(error_of("{{ message.content + 'x' }}"),
            "template:1:20: error: 'message.content' is undefined");
  EXPECT_EQ(error_of("{{ none.strip() }}"), "template:1:4: error: 'NoneType.strip' is undefined");
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(JinjaErrors, SyntaxErrorsNameLineAndColumn) {
  EXPECT_EQ(error_of("line one\n{% if x %}\n  {% endfor %}"),
            "template:3:6: syntax error: unexpected 'endfor' (expected 'elif', 'else' or 'endif' "
            "for the 'if' at line 2)");
  EXPECT_EQ(error_of("{% for x in y %}\nabc"),
            "template:2:4: syntax error: unexpected end of template: 'for' at line 1 is not "
            "closed (expected 'else' or 'endfor')");
  EXPECT_EQ(error_of("a\nb {{ 1 + }}"), "template:2:10: syntax error: unexpected '}}'");
  EXPECT_EQ(error_of("{{ 1 }}{{ 2 }"), "template:1:8: syntax error: unclosed '{{': missing '}}'");
  EXPECT_EQ(error_of("{{ 'abc }}"), "template:1:4: syntax error: unterminated string literal");
  EXPECT_EQ(error_of("{# never closed"),
            "template:1:1: syntax error: unclosed comment: '{#' without '#}'");
  EXPECT_EQ(error_of("{% include 'x.html' %}"),
            "template:1:4: syntax error: 'include' is not supported in chat templates");
  EXPECT_EQ(error_of("{% frobnicate %}"),
            "template:1:4: syntax error: unknown statement 'frobnicate'");
  EXPECT_EQ(error_of("{% break %}"), "template:1:4: syntax error: 'break' outside a for loop");
  EXPECT_EQ(error_of("{% for x in y %}{% set s %}{% continue %}{% endset %}{% endfor %}"),
            "template:1:31: syntax error: 'continue' outside a for loop");
  EXPECT_EQ(error_of("{{ a ! b }}"), "template:1:6: syntax error: unexpected character '!'");
}

TEST(JinjaErrors, UnknownFiltersAndTestsAreNamedAtParseTime) {
  EXPECT_EQ(error_of("ok\n{{ x | frobnicate(1) }}"),
            "template:2:8: syntax error: unknown filter 'frobnicate'");
  EXPECT_EQ(error_of("{% if x is frobbed %}{% endif %}"),
            "template:1:12: syntax error: unknown test 'frobbed'");
}

TEST(JinjaErrors, RaiseExceptionCarriesTheTemplateMessage) {
  EXPECT_EQ(error_of("a\n  {{ raise_exception('Roles must alternate') }}"),
            "template:2:6: raise_exception: Roles must alternate");
}

TEST(JinjaErrors, TypeErrorsAreRenderErrors) {
  EXPECT_EQ(error_of("{{ none + 'a' }}"),
            "template:1:9: error: unsupported operand type(s) for +: 'NoneType' and 'str'");
  EXPECT_EQ(error_of("{{ 1 < 'a' }}"),
            "template:1:4: error: '<' not supported between instances of 'int' and 'str'");
  EXPECT_EQ(error_of("{% for x in none %}{% endfor %}"),
            "template:1:4: error: 'NoneType' object is not iterable");
  EXPECT_EQ(error_of("{{ 1 // 0 }}"), "template:1:6: error: integer division or modulo by zero");
  EXPECT_EQ(error_of("{{ 'a'.nope() }}"), "template:1:4: error: 'str.nope' is undefined");
  EXPECT_EQ(error_of("{% set x = 1 %}{% set x.y = 2 %}"),
            "template:1:19: error: cannot assign attribute 'y' on 'x' (a int): only namespace() "
            "objects take attribute assignment");
  EXPECT_EQ(error_of("{{ 9223372036854775807 + 1 }}"), "template:1:24: error: integer overflow");
  EXPECT_EQ(error_of("{{ 'abc'|join(x=1) }}"),
            "template:1:10: error: join() got an unexpected keyword argument 'x'");
}

// ---------------------------------------------------------------------------------------------
// Hostile templates: limits instead of crashes

TEST(JinjaLimits, OutputIsCapped) {
  RenderOptions options;
  options.limits.max_output_bytes = 1000;
  EXPECT_EQ(
      error_of("{% for i in range(100) %}0123456789abcdef{% endfor %}", Json::object(), options),
      "template:1:26: limit exceeded: output exceeds the limit of 1000 bytes");
  EXPECT_EQ(error_of("{{ 'x' * 2000 }}", Json::object(), options),
            "template:1:8: limit exceeded: string of 2000 bytes exceeds the output limit of 1000");
}

TEST(JinjaLimits, RunawayMacroRecursionStops) {
  std::string message = error_of("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}");
  EXPECT_NE(message.find("limit exceeded: template nested deeper than 400 levels"),
            std::string::npos)
      << message;
}

TEST(JinjaLimits, WorkBudgetStopsExplosiveLoops) {
  RenderOptions options;
  options.limits.max_work = 100000;
  std::string message =
      error_of("{% for a in range(1000) %}{% for b in range(1000) %}{% endfor %}{% endfor %}",
               Json::object(), options);
  EXPECT_NE(message.find("limit exceeded: template exceeded its work budget of 100000 units"),
            std::string::npos)
      << message;
  // Doubling a list every iteration runs out of budget long before memory does.
  EXPECT_NE(error_of("{% set ns = namespace(l=[1]) %}{% for i in range(64) %}"
                     "{% set ns.l = ns.l + ns.l %}{% endfor %}",
                     Json::object(), options)
                .find("work budget"),
            std::string::npos);
  // Comparing big values costs their size, not one step.
  EXPECT_NE(error_of("{% set big = range(10000)|list %}{% for i in range(1000) %}"
                     "{% if big == big %}{% endif %}{% endfor %}",
                     Json::object(), options)
                .find("work budget"),
            std::string::npos);
}

TEST(JinjaLimits, DeepNestingIsASyntaxErrorNotAStackOverflow) {
  std::string deep_parens = "{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}";
  EXPECT_NE(error_of(deep_parens).find("nested deeper than 200 levels"), std::string::npos);
  std::string long_chain = "{{ 1";
  for (int i = 0; i < 5000; ++i) long_chain += " + 1";
  EXPECT_NE(error_of(long_chain + " }}").find("nested deeper than 200 levels"), std::string::npos);
  std::string deep_ifs;
  for (int i = 0; i < 500; ++i) deep_ifs += "{% if true %}";
  EXPECT_NE(error_of(deep_ifs).find("nested deeper than 200 levels"), std::string::npos);
}

TEST(JinjaLimits, ContainersCannotHoldThemselves) {
  EXPECT_EQ(error_of("{% set l = [] %}{% set _ = l.append(l) %}"),
            "template:1:28: error: cannot put a list inside itself");
  EXPECT_EQ(error_of("{% set ns = namespace() %}{% set ns.me = [ns] %}"),
            "template:1:30: error: cannot store namespace 'ns' inside itself");
  EXPECT_EQ(error_of("{% set d = {} %}{% set _ = d.update({'d': d}) %}"),
            "template:1:28: error: cannot put a dict inside itself");
}

TEST(JinjaLimits, DeeplyNestedValuesPrintAnErrorAndFreeWithoutRecursion) {
  // A chain of 100,000 nested lists, built by appending: printing gives up at the nesting limit,
  // and destroying the chain must not recurse once per level (a stack overflow here).
  std::string source =
      "{% set root = [] %}{% set ns = namespace(tail=root) %}{% for i in range(100000) %}"
      "{% set next = [] %}{% set _ = ns.tail.append(next) %}{% set ns.tail = next %}{% endfor %}"
      "{{ root }}";
  EXPECT_EQ(error_of(source),
            "template:1:172: limit exceeded: value nested deeper than 128 levels");
  // Wrapping a value in itself again and again costs its size each time: the budget stops it.
  RenderOptions options;
  options.limits.max_work = 1'000'000;
  EXPECT_NE(error_of("{% set ns = namespace(l=[]) %}{% for i in range(100000) %}"
                     "{% set ns.l = [ns.l] %}{% endfor %}",
                     Json::object(), options)
                .find("work budget"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// Templates as values

TEST(JinjaTemplate, ParsedTemplatesRenderRepeatedly) {
  Result<Template> compiled = Template::parse("Hello {{ name | upper }}!");
  ASSERT_TRUE(compiled.is_ok()) << compiled.message();
  Template copy = *compiled;
  EXPECT_EQ(*compiled->render({{"name", Value("cove")}}), "Hello COVE!");
  EXPECT_EQ(*copy.render({{"name", Value("again")}}), "Hello AGAIN!");
}

TEST(JinjaTemplate, StrftimeNowUsesTheFixedTime) {
  RenderOptions options;
  options.fixed_time = 1721995200;  // 2024-07-26 12:00 UTC: the same date in every time zone
  EXPECT_EQ(render("{{ strftime_now('%d %b %Y') }} {{ strftime_now('%Y-%m-%d') }}", Json::object(),
                   options),
            "26 Jul 2024 2024-07-26");
}

// ---------------------------------------------------------------------------------------------
// ChatTemplate: conversation handling

const Json kConversation = Json::parse(R"([
  {"role": "system", "content": "You are a helpful assistant."},
  {"role": "user", "content": "Hello!"},
  {"role": "assistant", "content": "Hi there!"},
  {"role": "user", "content": "How are you?"}
])");

const Json kTools = Json::parse(R"([
  {"type": "function", "function": {"name": "get_weather", "description": "Get the weather for a city",
   "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "City name"}},
                  "required": ["city"]}}}
])");

// A tool round trip: the model calls get_weather, the tool answers, the model replies.
const Json kToolConversation = Json::parse(R"([
  {"role": "system", "content": "You are a helpful assistant."},
  {"role": "user", "content": "What's the weather in Paris?"},
  {"role": "assistant", "content": null, "tool_calls": [
    {"id": "call12345", "type": "function",
     "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
  {"role": "tool", "tool_call_id": "call12345", "content": "{\"temperature\": 22}"},
  {"role": "assistant", "content": "It is 22 degrees in Paris."},
  {"role": "user", "content": "Thanks!"}
])");

std::string render_chat(const std::string& source, const std::string& bos, const std::string& eos,
                        const Json& messages, const Json& tools = nullptr,
                        const Json& extra = nullptr, bool add_generation_prompt = true) {
  Result<ChatTemplate> chat_template = ChatTemplate::parse(source, bos, eos);
  if (!chat_template) return "ERROR: " + chat_template.message();
  chat_template->set_fixed_time(1721995200);  // 26 Jul 2024, midday UTC
  Result<std::string> prompt = chat_template->render(messages, tools, add_generation_prompt, extra);
  return prompt ? *prompt : "ERROR: " + prompt.message();
}

const char* kEchoTemplate =
    "{% for m in messages %}{{ m.role }}={{ m.content }}"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}"
    "|{{ c.function.name }}:{{ c.function.arguments | tojson }}:{{ c.function.arguments.city }}"
    ":{{ 'text=' + c.function.arguments }}{% endfor %}{% endif %};{% endfor %}"
    "{{ tools | length if tools else 'no tools' }}{{ '>' if add_generation_prompt }}";

TEST(ChatTemplate, ContentPartsBecomeOneString) {
  Json messages = Json::parse(R"([{"role": "user", "content": [
      {"type": "text", "text": "Describe "}, {"type": "text", "text": "this."}]}])");
  EXPECT_EQ(render_chat(kEchoTemplate, "", "", messages), "user=Describe this.;no tools>");
}

TEST(ChatTemplate, NonTextContentPartsAreRefused) {
  Json messages = Json::parse(R"([{"role": "user", "content": [
      {"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}])");
  EXPECT_EQ(render_chat(kEchoTemplate, "", "", messages),
            "ERROR: chat template: messages[0].content[0]: content part type 'image_url' is not "
            "supported (text only)");
}

TEST(ChatTemplate, ToolCallArgumentsAreBothAMappingAndTheirText) {
  EXPECT_EQ(render_chat(kEchoTemplate, "", "", kToolConversation, kTools, nullptr, false),
            "system=You are a helpful assistant.;user=What's the weather in Paris?;"
            "assistant=None|get_weather:{\"city\": \"Paris\"}:Paris:text={\"city\": \"Paris\"};"
            "tool={\"temperature\": 22};assistant=It is 22 degrees in Paris.;user=Thanks!;1");
  // Text that is not a JSON object stays a string.
  Json messages = Json::parse(R"([{"role": "assistant", "content": "", "tool_calls": [
      {"type": "function", "function": {"name": "f", "arguments": "not json"}}]}])");
  EXPECT_EQ(render_chat(kEchoTemplate, "", "", messages),
            "assistant=|f:\"not json\"::text=not json;no tools>");
}

TEST(ChatTemplate, NullOrEmptyToolCallsAreDropped) {
  Json messages = Json::parse(R"([{"role": "assistant", "content": "a", "tool_calls": null},
                                  {"role": "assistant", "content": "b", "tool_calls": []}])");
  EXPECT_EQ(
      render_chat("{% for m in messages %}{{ 'tool_calls' in m }}{% endfor %}", "", "", messages),
      "FalseFalse");
}

TEST(ChatTemplate, ExposesSpecialTokensAndExtraContext) {
  EXPECT_EQ(render_chat("{{ bos_token }}|{{ eos_token }}|{{ enable_thinking }}|{{ tools }}", "<s>",
                        "</s>", kConversation, nullptr, Json{{"enable_thinking", false}}),
            "<s>|</s>|False|None");
}

TEST(ChatTemplate, BadInputIsAnErrorValue) {
  Result<ChatTemplate> chat_template = ChatTemplate::parse("{{ messages }}", "", "");
  ASSERT_TRUE(chat_template.is_ok());
  EXPECT_EQ(chat_template->render(Json::object(), nullptr, true).message(),
            "chat template: 'messages' must be an array");
  EXPECT_EQ(chat_template->render(Json::parse(R"([{"content": "x"}])"), nullptr, true).message(),
            "chat template: messages[0]: missing 'role'");
  EXPECT_EQ(chat_template->render(kConversation, Json::object(), true).message(),
            "chat template: 'tools' must be null or an array");
  EXPECT_EQ(ChatTemplate::parse("{% if %}", "", "").message(),
            "chat template:1:7: syntax error: unexpected '%}'");
}

TEST(ChatTemplate, PlainJsonIsAcceptedToo) {
  // nlohmann::json sorts object keys; the prompt is still rendered.
  Result<ChatTemplate> chat_template = ChatTemplate::parse(kEchoTemplate, "", "");
  ASSERT_TRUE(chat_template.is_ok());
  nlohmann::json messages = nlohmann::json::parse(R"([{"role": "user", "content": "hi"}])");
  EXPECT_EQ(*chat_template->render(messages, nullptr, true), "user=hi;no tools>");
}

TEST(ChatTemplate, ChatMlFallback) {
  ChatTemplate chatml = ChatTemplate::chatml();
  EXPECT_EQ(*chatml.render(kConversation, nullptr, true),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHello!<|im_end|>\n"
            "<|im_start|>assistant\nHi there!<|im_end|>\n"
            "<|im_start|>user\nHow are you?<|im_end|>\n"
            "<|im_start|>assistant\n");
  EXPECT_EQ(*chatml.render(Json::parse(R"([{"role": "user", "content": "x"}])"), nullptr, false),
            "<|im_start|>user\nx<|im_end|>\n");
}

// ---------------------------------------------------------------------------------------------
// Published templates, one family at a time

// meta-llama/Llama-2-7b-chat-hf
const char* kLlama2Template =
    R"jinja({% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != false %}{% set content = '<<SYS>>\n' + system_message + '\n<</SYS>>\n\n' + message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}{% endfor %})jinja";

TEST(ChatTemplateFamilies, Llama2) {
  EXPECT_EQ(render_chat(kLlama2Template, "<s>", "</s>", kConversation),
            "<s>[INST] <<SYS>>\nYou are a helpful assistant.\n<</SYS>>\n\nHello! [/INST] Hi there! "
            "</s><s>[INST] How are you? [/INST]");
  Json two_users =
      Json::parse(R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])");
  EXPECT_EQ(render_chat(kLlama2Template, "<s>", "</s>", two_users),
            "ERROR: chat template:1:314: raise_exception: Conversation roles must alternate "
            "user/assistant/user/assistant/...");
}

// meta-llama/Meta-Llama-3-8B-Instruct
const char* kLlama3Template =
    R"jinja({% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>

'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>

' }}{% endif %})jinja";

TEST(ChatTemplateFamilies, Llama3) {
  EXPECT_EQ(render_chat(kLlama3Template, "<|begin_of_text|>", "<|eot_id|>", kConversation),
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful "
            "assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\nHi there!<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

// meta-llama/Llama-3.1-8B-Instruct
const char* kLlama31Template = R"jinja({{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- set date_string = "26 Jul 2024" %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message + builtin tools #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if builtin_tools is defined or tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{%- if builtin_tools is defined %}
    {{- "Tools: " + builtin_tools | reject('equalto', 'code_interpreter') | join(", ") + "\n\n"}}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {%- if builtin_tools is defined and tool_call.name in builtin_tools %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- "<|python_tag|>" + tool_call.name + ".call(" }}
            {%- for arg_name, arg_val in tool_call.arguments | items %}
                {{- arg_name + '="' + arg_val + '"' }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- endif %}
                {%- endfor %}
            {{- ")" }}
        {%- else  %}
            {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
            {{- '{"name": "' + tool_call.name + '", ' }}
            {{- '"parameters": ' }}
            {{- tool_call.arguments | tojson }}
            {{- "}" }}
        {%- endif %}
        {%- if builtin_tools is defined %}
            {#- This means we're in ipython mode #}
            {{- "<|eom_id|>" }}
        {%- else %}
            {{- "<|eot_id|>" }}
        {%- endif %}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %})jinja";

const char* kLlama3Turns =
    "<|start_header_id|>user<|end_header_id|>\n\nHello!<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\nHi there!<|eot_id|>"
    "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
    "<|start_header_id|>assistant<|end_header_id|>\n\n";

TEST(ChatTemplateFamilies, Llama31) {
  EXPECT_EQ(render_chat(kLlama31Template, "<|begin_of_text|>", "<|eot_id|>", kConversation),
            std::string("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                        "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
                        "You are a helpful assistant.<|eot_id|>") +
                kLlama3Turns);
  // date_string from the caller replaces the template's default date.
  EXPECT_NE(render_chat(kLlama31Template, "<|begin_of_text|>", "<|eot_id|>", kConversation, nullptr,
                        Json{{"date_string", "01 Jan 2025"}})
                .find("Today Date: 01 Jan 2025\n"),
            std::string::npos);
}

TEST(ChatTemplateFamilies, Llama31WithTools) {
  EXPECT_EQ(
      render_chat(kLlama31Template, "<|begin_of_text|>", "<|eot_id|>", kToolConversation, kTools),
      "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
      "Environment: ipython\nCutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n"
      "You are a helpful assistant.<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n"
      "Given the following functions, please respond with a JSON for a function call with its "
      "proper arguments that best answers the given prompt.\n\n"
      "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name "
      "and its value}.Do not use variables.\n\n"
      "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n"
      "        \"description\": \"Get the weather for a city\",\n        \"parameters\": {\n"
      "            \"type\": \"object\",\n            \"properties\": {\n"
      "                \"city\": {\n                    \"type\": \"string\",\n"
      "                    \"description\": \"City name\"\n                }\n            },\n"
      "            \"required\": [\n                \"city\"\n            ]\n        }\n    "
      "}\n}\n\n"
      "What's the weather in Paris?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
      "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot_id|>"
      "<|start_header_id|>ipython<|end_header_id|>\n\n\"{\\\"temperature\\\": 22}\"<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\nIt is 22 degrees in Paris.<|eot_id|>"
      "<|start_header_id|>user<|end_header_id|>\n\nThanks!<|eot_id|>"
      "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

// meta-llama/Llama-3.2-3B-Instruct: today's date comes from strftime_now.
const char* kLlama32Template = R"jinja({{- bos_token }}
{%- if custom_tools is defined %}
    {%- set tools = custom_tools %}
{%- endif %}
{%- if not tools_in_user_message is defined %}
    {%- set tools_in_user_message = true %}
{%- endif %}
{%- if not date_string is defined %}
    {%- if strftime_now is defined %}
        {%- set date_string = strftime_now("%d %b %Y") %}
    {%- else %}
        {%- set date_string = "26 Jul 2024" %}
    {%- endif %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}

{#- This block extracts the system message, so we can slot it into the right place. #}
{%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
{%- else %}
    {%- set system_message = "" %}
{%- endif %}

{#- System message #}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if tools is not none %}
    {{- "Environment: ipython\n" }}
{%- endif %}
{{- "Cutting Knowledge Date: December 2023\n" }}
{{- "Today Date: " + date_string + "\n\n" }}
{%- if tools is not none and not tools_in_user_message %}
    {{- "You have access to the following functions. To call a function, please respond with JSON for a function call." }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
{%- endif %}
{{- system_message }}
{{- "<|eot_id|>" }}

{#- Custom tools are passed in a user message with some extra guidance #}
{%- if tools_in_user_message and not tools is none %}
    {#- Extract the first user message so we can plug it in here #}
    {%- if messages | length != 0 %}
        {%- set first_user_message = messages[0]['content']|trim %}
        {%- set messages = messages[1:] %}
    {%- else %}
        {{- raise_exception("Cannot put tools in the first user message when there's no first user message!") }}
{%- endif %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\n' -}}
    {{- "Given the following functions, please respond with a JSON for a function call " }}
    {{- "with its proper arguments that best answers the given prompt.\n\n" }}
    {{- 'Respond in the format {"name": function name, "parameters": dictionary of argument name and its value}.' }}
    {{- "Do not use variables.\n\n" }}
    {%- for t in tools %}
        {{- t | tojson(indent=4) }}
        {{- "\n\n" }}
    {%- endfor %}
    {{- first_user_message + "<|eot_id|>"}}
{%- endif %}

{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}
            {{- raise_exception("This model only supports single tool-calls at once!") }}
        {%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", ' }}
        {{- '"parameters": ' }}
        {{- tool_call.arguments | tojson }}
        {{- "}" }}
        {{- "<|eot_id|>" }}
    {%- elif message.role == "tool" or message.role == "ipython" %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable %}
            {{- message.content | tojson }}
        {%- else %}
            {{- message.content }}
        {%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}
{%- endif %})jinja";

TEST(ChatTemplateFamilies, Llama32DateFromStrftimeNow) {
  Result<ChatTemplate> chat_template =
      ChatTemplate::parse(kLlama32Template, "<|begin_of_text|>", "<|eot_id|>");
  ASSERT_TRUE(chat_template.is_ok()) << chat_template.message();
  chat_template->set_fixed_time(1733400000);  // 2024-12-05 12:00 UTC
  EXPECT_EQ(*chat_template->render(kConversation, nullptr, true),
            std::string("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                        "Cutting Knowledge Date: December 2023\nToday Date: 05 Dec 2024\n\n"
                        "You are a helpful assistant.<|eot_id|>") +
                kLlama3Turns);
  Json no_first_user = Json::parse(R"([{"role": "system", "content": "s"}])");
  EXPECT_EQ(chat_template->render(no_first_user, kTools, true).message(),
            "chat template:53:13: raise_exception: Cannot put tools in the first user message "
            "when there's no first user message!");
}

// mistralai/Mistral-7B-Instruct-v0.1 (original): no system role.
const char* kMistral01Template =
    R"jinja({{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %})jinja";

// mistralai/Mistral-7B-Instruct-v0.1 (revised): the system message joins the first turn.
const char* kMistral01SystemTemplate = R"jinja({%- if messages[0]['role'] == 'system' %}
    {%- set system_message = messages[0]['content'] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}
        {{- raise_exception('After the optional system message, conversation roles must alternate user/assistant/user/assistant/...') }}
    {%- endif %}
    {%- if message['role'] == 'user' %}
        {%- if loop.first and system_message is defined %}
            {{- ' [INST] ' + system_message + '\n\n' + message['content'] + ' [/INST]' }}
        {%- else %}
            {{- ' [INST] ' + message['content'] + ' [/INST]' }}
        {%- endif %}
    {%- elif message['role'] == 'assistant' %}
        {{- ' ' + message['content'] + eos_token}}
    {%- else %}
        {{- raise_exception('Only user and assistant roles are supported, with the exception of an initial optional system message!') }}
    {%- endif %}
{%- endfor %})jinja";

TEST(ChatTemplateFamilies, Mistral01) {
  Json no_system(kConversation.begin() + 1, kConversation.end());
  EXPECT_EQ(render_chat(kMistral01Template, "<s>", "</s>", no_system),
            "<s>[INST] Hello! [/INST]Hi there!</s>[INST] How are you? [/INST]");
  EXPECT_EQ(render_chat(kMistral01Template, "<s>", "</s>", kConversation),
            "ERROR: chat template:1:110: raise_exception: Conversation roles must alternate "
            "user/assistant/user/assistant/...");
  EXPECT_EQ(
      render_chat(kMistral01SystemTemplate, "<s>", "</s>", kConversation),
      "<s> [INST] You are a helpful assistant.\n\nHello! [/INST] Hi there!</s> [INST] How are "
      "you? [/INST]");
}

// mistralai/Mistral-7B-Instruct-v0.3: tools before the last user turn, tool calls with 9-char ids.
const char* kMistral03Template = R"jinja({%- if messages[0]["role"] == "system" %}
    {%- set system_message = messages[0]["content"] %}
    {%- set loop_messages = messages[1:] %}
{%- else %}
    {%- set loop_messages = messages %}
{%- endif %}
{%- if not tools is defined %}
    {%- set tools = none %}
{%- endif %}
{%- set user_messages = loop_messages | selectattr("role", "equalto", "user") | list %}

{#- This block checks for alternating user/assistant messages, skipping tool calling messages #}
{%- set ns = namespace() %}
{%- set ns.index = 0 %}
{%- for message in loop_messages %}
    {%- if not (message.role == "tool" or message.role == "tool_results" or (message.tool_calls is defined and message.tool_calls is not none)) %}
        {%- if (message["role"] == "user") != (ns.index % 2 == 0) %}
            {{- raise_exception("After the optional system message, conversation roles must alternate user/assistant/user/assistant/...") }}
        {%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}

{{- bos_token }}
{%- for message in loop_messages %}
    {%- if message["role"] == "user" %}
        {%- if tools is not none and (message == user_messages[-1]) %}
            {{- "[AVAILABLE_TOOLS] [" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}
                        {{- '"' + key + '": "' + val + '"' }}
                    {%- else %}
                        {{- '"' + key + '": ' + val|tojson }}
                    {%- endif %}
                    {%- if not loop.last %}
                        {{- ", " }}
                    {%- endif %}
                {%- endfor %}
                {{- "}}" }}
                {%- if not loop.last %}
                    {{- ", " }}
                {%- else %}
                    {{- "]" }}
                {%- endif %}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
            {%- endif %}
        {%- if loop.last and system_message is defined %}
            {{- "[INST] " + system_message + "\n\n" + message["content"] + "[/INST]" }}
        {%- else %}
            {{- "[INST] " + message["content"] + "[/INST]" }}
        {%- endif %}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS] [" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}
                {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
            {%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {%- if not loop.last %}
                {{- ", " }}
            {%- else %}
                {{- "]" + eos_token }}
            {%- endif %}
        {%- endfor %}
    {%- elif message["role"] == "assistant" %}
        {{- " " + message["content"]|trim + eos_token}}
    {%- elif message["role"] == "tool_results" or message["role"] == "tool" %}
        {%- if message.content is defined and message.content.content is defined %}
            {%- set content = message.content.content %}
        {%- else %}
            {%- set content = message.content %}
        {%- endif %}
        {{- '[TOOL_RESULTS] {"content": ' + content|string + ", " }}
        {%- if not message.tool_call_id is defined or message.tool_call_id|length != 9 %}
            {{- raise_exception("Tool call IDs should be alphanumeric strings with length 9!") }}
        {%- endif %}
        {{- '"call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- else %}
        {{- raise_exception("Only user and assistant roles are supported, with the exception of an initial optional system message!") }}
    {%- endif %}
{%- endfor %})jinja";

TEST(ChatTemplateFamilies, Mistral03) {
  EXPECT_EQ(render_chat(kMistral03Template, "<s>", "</s>", kConversation),
            "<s>[INST] Hello![/INST] Hi there!</s>[INST] You are a helpful assistant.\n\nHow are "
            "you?[/INST]");
}

TEST(ChatTemplateFamilies, Mistral03WithToolCalls) {
  Json no_system(kToolConversation.begin() + 1, kToolConversation.end());
  EXPECT_EQ(
      render_chat(kMistral03Template, "<s>", "</s>", no_system, kTools),
      "<s>[INST] What's the weather in Paris?[/INST][TOOL_CALLS] [{\"name\": \"get_weather\", "
      "\"arguments\": {\"city\": \"Paris\"}, \"id\": \"call12345\"}]</s>[TOOL_RESULTS] "
      "{\"content\": {\"temperature\": 22}, \"call_id\": \"call12345\"}[/TOOL_RESULTS] It is 22 "
      "degrees in Paris.</s>[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": "
      "\"get_weather\", \"description\": \"Get the weather for a city\", \"parameters\": "
      "{\"type\": "
      "\"object\", \"properties\": {\"city\": {\"type\": \"string\", \"description\": \"City "
      "name\"}}, \"required\": [\"city\"]}}}][/AVAILABLE_TOOLS][INST] Thanks![/INST]");
  Json bad_id = no_system;
  bad_id[1]["tool_calls"][0]["id"] = "call_1";
  EXPECT_NE(
      render_chat(kMistral03Template, "<s>", "</s>", bad_id, kTools)
          .find("raise_exception: Tool call IDs should be alphanumeric strings with length 9!"),
      std::string::npos);
}

// Qwen/Qwen2-7B-Instruct
const char* kQwen2Template =
    R"jinja({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
You are a helpful assistant.<|im_end|>
' }}{% endif %}{{'<|im_start|>' + message['role'] + '
' + message['content'] + '<|im_end|>' + '
'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
' }}{% endif %})jinja";

const char* kChatMlConversation =
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\nHello!<|im_end|>\n"
    "<|im_start|>assistant\nHi there!<|im_end|>\n"
    "<|im_start|>user\nHow are you?<|im_end|>\n"
    "<|im_start|>assistant\n";

TEST(ChatTemplateFamilies, Qwen2) {
  EXPECT_EQ(render_chat(kQwen2Template, "", "<|im_end|>", kConversation), kChatMlConversation);
  Json no_system(kConversation.begin() + 1, kConversation.begin() + 2);
  EXPECT_EQ(render_chat(kQwen2Template, "", "<|im_end|>", no_system),
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
            "<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n");
}

// Qwen/Qwen2.5-7B-Instruct
const char* kQwen25Template = R"jinja({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' }}
    {%- else %}
        {{- '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\n<tool_call>\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- message.content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
{%- endif %})jinja";

const char* kQwenToolsSystem =
    "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
    "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Get the "
    "weather for a city\", \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": "
    "{\"type\": \"string\", \"description\": \"City name\"}}, \"required\": [\"city\"]}}}\n"
    "</tools>\n\nFor each function call, return a json object with function name and arguments "
    "within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, "
    "\"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n";

const char* kQwenToolTurns =
    "<|im_start|>user\nWhat's the weather in Paris?<|im_end|>\n"
    "<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": "
    "\"Paris\"}}\n</tool_call><|im_end|>\n"
    "<|im_start|>user\n<tool_response>\n{\"temperature\": 22}\n</tool_response><|im_end|>\n"
    "<|im_start|>assistant\nIt is 22 degrees in Paris.<|im_end|>\n"
    "<|im_start|>user\nThanks!<|im_end|>\n<|im_start|>assistant\n";

TEST(ChatTemplateFamilies, Qwen25) {
  EXPECT_EQ(render_chat(kQwen25Template, "", "<|im_end|>", kConversation), kChatMlConversation);
  EXPECT_EQ(render_chat(kQwen25Template, "", "<|im_end|>", kToolConversation, kTools),
            std::string("<|im_start|>system\nYou are a helpful assistant.\n\n") + kQwenToolsSystem +
                kQwenToolTurns);
}

// Qwen/Qwen3-8B: hybrid thinking.
const char* kQwen3Template = R"jinja({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %})jinja";

const Json kThinkingConversation = Json::parse(R"([
  {"role": "user", "content": "What is 2+2?"},
  {"role": "assistant", "content": "<think>\nSimple addition.\n</think>\n\nIt is 4."},
  {"role": "user", "content": "And 3+3?"}
])");

TEST(ChatTemplateFamilies, Qwen3) {
  EXPECT_EQ(render_chat(kQwen3Template, "", "<|im_end|>", kConversation), kChatMlConversation);
  EXPECT_EQ(render_chat(kQwen3Template, "", "<|im_end|>", kToolConversation, kTools),
            std::string("<|im_start|>system\nYou are a helpful assistant.\n\n") + kQwenToolsSystem +
                kQwenToolTurns);
}

TEST(ChatTemplateFamilies, Qwen3DropsPastReasoningAndHonoursEnableThinking) {
  const char* history =
      "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\nIt is 4.<|im_end|>\n"
      "<|im_start|>user\nAnd 3+3?<|im_end|>\n<|im_start|>assistant\n";
  EXPECT_EQ(render_chat(kQwen3Template, "", "<|im_end|>", kThinkingConversation), history);
  EXPECT_EQ(render_chat(kQwen3Template, "", "<|im_end|>", kThinkingConversation, nullptr,
                        Json{{"enable_thinking", false}}),
            std::string(history) + "<think>\n\n</think>\n\n");
  // The reasoning of a turn after the last user query is kept.
  Json ongoing = Json::parse(R"([{"role": "user", "content": "Hi"},
      {"role": "assistant", "content": "<think>\nGreet back.\n</think>\n\nHello!"}])");
  EXPECT_EQ(render_chat(kQwen3Template, "", "<|im_end|>", ongoing, nullptr, nullptr, false),
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\nGreet back.\n</think>"
            "\n\nHello!<|im_end|>\n");
}

// HuggingFaceTB/SmolLM2-1.7B-Instruct: ChatML with a default system prompt.
const char* kSmolLM2Template =
    R"jinja({% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system
You are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>
' }}{% endif %}{{'<|im_start|>' + message['role'] + '
' + message['content'] + '<|im_end|>' + '
'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant
' }}{% endif %})jinja";

TEST(ChatTemplateFamilies, SmolLM2) {
  EXPECT_EQ(render_chat(kSmolLM2Template, "", "<|im_end|>", kConversation), kChatMlConversation);
  Json no_system(kConversation.begin() + 1, kConversation.begin() + 2);
  EXPECT_EQ(render_chat(kSmolLM2Template, "", "<|im_end|>", no_system),
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
            "Face<|im_end|>\n<|im_start|>user\nHello!<|im_end|>\n<|im_start|>assistant\n");
}

TEST(ChatTemplateFamilies, Phi3FromTheSharedGguf) {
  std::string path = std::string(COVE_SOURCE_DIR) + "/../shared/vocab/ggml-vocab-phi-3.gguf";
  Result<std::unique_ptr<gguf::File>> file = gguf::File::open(path);
  ASSERT_TRUE(file.is_ok()) << file.message();
  Result<std::optional<std::string>> source = (*file)->get_string("tokenizer.chat_template");
  ASSERT_TRUE(source.is_ok() && source->has_value()) << "no tokenizer.chat_template in " << path;
  // This Phi-3 template has no system branch and always opens the assistant turn after a user.
  EXPECT_EQ(render_chat(**source, "<s>", "<|endoftext|>", kConversation),
            "<s><|user|>\nHello!<|end|>\n<|assistant|>\nHi there!<|end|>\n<|user|>\nHow are "
            "you?<|end|>\n<|assistant|>\n");
}

// google/gemma-2-9b-it: no system role at all.
const char* kGemma2Template =
    R"jinja({{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '
' + message['content'] | trim + '<end_of_turn>
' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model
'}}{% endif %})jinja";

const char* kGemmaTurns =
    "<start_of_turn>model\nHi there!<end_of_turn>\n"
    "<start_of_turn>user\nHow are you?<end_of_turn>\n<start_of_turn>model\n";

TEST(ChatTemplateFamilies, Gemma2) {
  Json no_system(kConversation.begin() + 1, kConversation.end());
  EXPECT_EQ(render_chat(kGemma2Template, "<bos>", "<eos>", no_system),
            std::string("<bos><start_of_turn>user\nHello!<end_of_turn>\n") + kGemmaTurns);
  EXPECT_EQ(render_chat(kGemma2Template, "<bos>", "<eos>", kConversation),
            "ERROR: chat template:1:59: raise_exception: System role not supported");
}

// google/gemma-3-4b-it: the system message is folded into the first user turn.
const char* kGemma3Template = R"jinja({{ bos_token }}
{%- if messages[0]['role'] == 'system' -%}
    {%- if messages[0]['content'] is string -%}
        {%- set first_user_prefix = messages[0]['content'] + '

' -%}
    {%- else -%}
        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '

' -%}
    {%- endif -%}
    {%- set loop_messages = messages[1:] -%}
{%- else -%}
    {%- set first_user_prefix = "" -%}
    {%- set loop_messages = messages -%}
{%- endif -%}
{%- for message in loop_messages -%}
    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}
        {{ raise_exception("Conversation roles must alternate user/assistant/user/assistant/...") }}
    {%- endif -%}
    {%- if (message['role'] == 'assistant') -%}
        {%- set role = "model" -%}
    {%- else -%}
        {%- set role = message['role'] -%}
    {%- endif -%}
    {{ '<start_of_turn>' + role + '
' + (first_user_prefix if loop.first else "") }}
    {%- if message['content'] is string -%}
        {{ message['content'] | trim }}
    {%- elif message['content'] is iterable -%}
        {%- for item in message['content'] -%}
            {%- if item['type'] == 'image' -%}
                {{ '<start_of_image>' }}
            {%- elif item['type'] == 'text' -%}
                {{ item['text'] | trim }}
            {%- endif -%}
        {%- endfor -%}
    {%- else -%}
        {{ raise_exception("Invalid content type") }}
    {%- endif -%}
    {{ '<end_of_turn>
' }}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{'<start_of_turn>model
'}}
{%- endif -%})jinja";

TEST(ChatTemplateFamilies, Gemma3FoldsTheSystemPromptIntoTheFirstTurn) {
  EXPECT_EQ(render_chat(kGemma3Template, "<bos>", "<eos>", kConversation),
            std::string("<bos><start_of_turn>user\nYou are a helpful assistant.\n\nHello!"
                        "<end_of_turn>\n") +
                kGemmaTurns);
  Json two_users =
      Json::parse(R"([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])");
  EXPECT_EQ(render_chat(kGemma3Template, "<bos>", "<eos>", two_users),
            "ERROR: chat template:19:12: raise_exception: Conversation roles must alternate "
            "user/assistant/user/assistant/...");
}

// deepseek-ai/DeepSeek-V2-Chat
const char* kDeepSeekV2Template =
    R"jinja({% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' + message['content'] + '\n\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' + message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ message['content'] + '\n\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %})jinja";

// deepseek-ai/DeepSeek-V3: the tool-call arguments are concatenated as text.
const char* kDeepSeekV3Template =
    R"jinja({% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='', is_first_sp=true) %}{%- for message in messages %}{%- if message['role'] == 'system' %}{%- if ns.is_first_sp %}{% set ns.system_prompt = ns.system_prompt + message['content'] %}{% set ns.is_first_sp = false %}{%- else %}{% set ns.system_prompt = ns.system_prompt + '\n\n' + message['content'] %}{%- endif %}{%- endif %}{%- endfor %}{{ bos_token }}{{ ns.system_prompt }}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and 'tool_calls' in message %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls'] %}{%- if not ns.is_first %}{%- if message['content'] is none %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{%- endif %}{%- set ns.is_first = true -%}{%- else %}{{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{%- endif %}{%- endfor %}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- if message['role'] == 'assistant' and 'tool_calls' not in message %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %})jinja";

// deepseek-ai/DeepSeek-R1: past reasoning is cut, and the generation prompt opens <think>.
const char* kDeepSeekR1Template =
    R"jinja({% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% endif %}{% set ns = namespace(is_first=false, is_tool=false, is_output_first=true, system_prompt='') %}{%- for message in messages %}{%- if message['role'] == 'system' %}{% set ns.system_prompt = message['content'] %}{%- endif %}{%- endfor %}{{bos_token}}{{ns.system_prompt}}{%- for message in messages %}{%- if message['role'] == 'user' %}{%- set ns.is_tool = false -%}{{'<｜User｜>' + message['content']}}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is none %}{%- set ns.is_tool = false -%}{%- for tool in message['tool_calls']%}{%- if not ns.is_first %}{{'<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{%- set ns.is_first = true -%}{%- else %}{{'\n' + '<｜tool▁call▁begin｜>' + tool['type'] + '<｜tool▁sep｜>' + tool['function']['name'] + '\n' + '```json' + '\n' + tool['function']['arguments'] + '\n' + '```' + '<｜tool▁call▁end｜>'}}{{'<｜tool▁calls▁end｜><｜end▁of▁sentence｜>'}}{%- endif %}{%- endfor %}{%- endif %}{%- if message['role'] == 'assistant' and message['content'] is not none %}{%- if ns.is_tool %}{{'<｜tool▁outputs▁end｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}{%- set ns.is_tool = false -%}{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}{% set content = content.split('</think>')[-1] %}{% endif %}{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}{%- endif %}{%- endif %}{%- if message['role'] == 'tool' %}{%- set ns.is_tool = true -%}{%- if ns.is_output_first %}{{'<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- set ns.is_output_first = false %}{%- else %}{{'\n<｜tool▁output▁begin｜>' + message['content'] + '<｜tool▁output▁end｜>'}}{%- endif %}{%- endif %}{%- endfor -%}{% if ns.is_tool %}{{'<｜tool▁outputs▁end｜>'}}{% endif %}{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\n'}}{% endif %})jinja";

const char* kDeepSeekBos = "<｜begin▁of▁sentence｜>";
const char* kDeepSeekEos = "<｜end▁of▁sentence｜>";

TEST(ChatTemplateFamilies, DeepSeekV2) {
  EXPECT_EQ(render_chat(kDeepSeekV2Template, kDeepSeekBos, kDeepSeekEos, kConversation),
            "<｜begin▁of▁sentence｜>You are a helpful assistant.\n\nUser: Hello!\n\nAssistant: Hi "
            "there!<｜end▁of▁sentence｜>User: How are you?\n\nAssistant:");
}

TEST(ChatTemplateFamilies, DeepSeekV3) {
  EXPECT_EQ(render_chat(kDeepSeekV3Template, kDeepSeekBos, kDeepSeekEos, kConversation),
            "<｜begin▁of▁sentence｜>You are a helpful assistant.<｜User｜>Hello!<｜Assistant｜>Hi "
            "there!<｜end▁of▁sentence｜><｜User｜>How are you?<｜Assistant｜>");
}

TEST(ChatTemplateFamilies, DeepSeekV3ToolCallsUseTheArgumentText) {
  EXPECT_EQ(
      render_chat(kDeepSeekV3Template, kDeepSeekBos, kDeepSeekEos, kToolConversation, kTools),
      "<｜begin▁of▁sentence｜>You are a helpful assistant.<｜User｜>What's the weather in Paris?"
      "<｜Assistant｜><｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_"
      "weather\n"
      "```json\n{\"city\": "
      "\"Paris\"}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>"
      "<｜tool▁outputs▁begin｜><｜tool▁output▁begin｜>{\"temperature\": 22}<｜tool▁output▁end｜>"
      "<｜tool▁outputs▁end｜>It is 22 degrees in Paris.<｜end▁of▁sentence｜><｜User｜>Thanks!"
      "<｜Assistant｜>");
}

TEST(ChatTemplateFamilies, DeepSeekR1) {
  EXPECT_EQ(render_chat(kDeepSeekR1Template, kDeepSeekBos, kDeepSeekEos, kConversation),
            "<｜begin▁of▁sentence｜>You are a helpful assistant.<｜User｜>Hello!<｜Assistant｜>Hi "
            "there!<｜end▁of▁sentence｜><｜User｜>How are you?<｜Assistant｜><think>\n");
  EXPECT_EQ(render_chat(kDeepSeekR1Template, kDeepSeekBos, kDeepSeekEos, kThinkingConversation),
            "<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜>\n\nIt is 4."
            "<｜end▁of▁sentence｜><｜User｜>And 3+3?<｜Assistant｜><think>\n");
}

}  // namespace
}  // namespace cove::chat
