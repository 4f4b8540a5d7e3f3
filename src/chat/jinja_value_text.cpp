// How values become text: Python's str() and repr(), json.dumps the way HF's tojson calls it,
// Python's float repr, and the UTF-8 helpers behind Python's character-based strings.
#include <algorithm>
#include <charconv>
#include <cmath>

#include "chat/jinja_error.h"
#include "chat/jinja_value.h"

namespace cove::chat::jinja {

namespace {

using detail::throw_too_deep;

// ---------------------------------------------------------------------------------------------
// Printing

void append_repr_string(const std::string& s, std::string& out) {
  // Python prefers single quotes and switches to double quotes when only ' appears.
  char quote = (s.find('\'') != std::string::npos && s.find('"') == std::string::npos) ? '"' : '\'';
  out += quote;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == quote || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  out += quote;
}

void append_repr(const Value& value, std::string& out, int depth);

void append_repr_dict(const ValueDict& dict, std::string& out, int depth) {
  out += '{';
  bool first = true;
  for (const ValueDict::Entry& entry : dict.entries()) {
    if (!first) out += ", ";
    first = false;
    append_repr(entry.first, out, depth + 1);
    out += ": ";
    append_repr(entry.second, out, depth + 1);
  }
  out += '}';
}

void append_str(const Value& value, std::string& out, int depth) {
  if (depth > kMaxNesting) throw_too_deep();
  detail::count_value_work(1);
  switch (value.kind()) {
    case ValueKind::kUndefined:
      return;
    case ValueKind::kNone:
      out += "None";
      return;
    case ValueKind::kBool:
      out += value.as_bool() ? "True" : "False";
      return;
    case ValueKind::kInt:
      out += std::to_string(value.as_int());
      return;
    case ValueKind::kFloat:
      out += format_float(value.as_double());
      return;
    case ValueKind::kString:
      out += value.as_string();
      return;
    case ValueKind::kList: {
      bool tuple = value.is_tuple();
      out += tuple ? '(' : '[';
      bool first = true;
      for (const Value& item : value.list()) {
        if (!first) out += ", ";
        first = false;
        append_repr(item, out, depth + 1);
      }
      if (tuple && value.list().size() == 1) out += ',';
      out += tuple ? ')' : ']';
      return;
    }
    case ValueKind::kDict:
      if (value.dict_object().json_text) {
        out += *value.dict_object().json_text;
      } else {
        append_repr_dict(value.dict(), out, depth);
      }
      return;
    case ValueKind::kNamespace:
      out += "<Namespace ";
      append_repr_dict(value.attributes(), out, depth);
      out += '>';
      return;
    case ValueKind::kCallable:
      out += "<function " + value.callable().name + ">";
      return;
  }
}

void append_repr(const Value& value, std::string& out, int depth) {
  if (depth > kMaxNesting) throw_too_deep();
  switch (value.kind()) {
    case ValueKind::kUndefined:
      out += "Undefined";
      return;
    case ValueKind::kString:
      append_repr_string(value.as_string(), out);
      return;
    case ValueKind::kDict:
      append_repr_dict(value.dict(), out, depth);
      return;
    default:
      append_str(value, out, depth);
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// JSON

void append_hex4(uint32_t unit, std::string& out) {
  static const char kHex[] = "0123456789abcdef";
  out += "\\u";
  for (int shift = 12; shift >= 0; shift -= 4) out += kHex[(unit >> shift) & 15];
}

// Decodes the code point starting at s[i] (advancing i); an invalid byte decodes as U+FFFD.
uint32_t decode_utf8(std::string_view s, size_t& i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    ++i;
    return n == 1 ? c : 0xFFFD;
  }
  uint32_t cp = n == 1 ? c : n == 2 ? (c & 0x1F) : n == 3 ? (c & 0x0F) : (c & 0x07);
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  i += n;
  return cp;
}

void append_json_string(std::string_view s, bool ensure_ascii, std::string& out) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '"':
        out += "\\\"";
        ++i;
        continue;
      case '\\':
        out += "\\\\";
        ++i;
        continue;
      case '\n':
        out += "\\n";
        ++i;
        continue;
      case '\r':
        out += "\\r";
        ++i;
        continue;
      case '\t':
        out += "\\t";
        ++i;
        continue;
      case '\b':
        out += "\\b";
        ++i;
        continue;
      case '\f':
        out += "\\f";
        ++i;
        continue;
      default:
        break;
    }
    if (c < 0x20 || (ensure_ascii && c == 0x7f)) {
      append_hex4(c, out);
      ++i;
    } else if (c < 0x80 || !ensure_ascii) {
      out += static_cast<char>(c);
      ++i;
    } else {
      uint32_t cp = decode_utf8(s, i);
      if (cp >= 0x10000) {
        cp -= 0x10000;
        append_hex4(0xD800 + (cp >> 10), out);
        append_hex4(0xDC00 + (cp & 0x3FF), out);
      } else {
        append_hex4(cp, out);
      }
    }
  }
  out += '"';
}

std::string json_key(const Value& key) {
  switch (key.kind()) {
    case ValueKind::kString:
      return key.as_string();
    case ValueKind::kBool:
      return key.as_bool() ? "true" : "false";
    case ValueKind::kNone:
      return "null";
    case ValueKind::kInt:
      return std::to_string(key.as_int());
    case ValueKind::kFloat:
      return format_float(key.as_double());
    default:
      throw_render_error("keys must be str, int, float, bool or None");
  }
}

struct JsonWriter {
  const JsonFormat& format;
  std::string item_separator;
  std::string key_separator;
  std::string& out;

  void newline(int level) {
    out += '\n';
    out.append(static_cast<size_t>(std::max(0, *format.indent)) * level, ' ');
  }

  void write(const Value& value, int level) {
    if (level > kMaxNesting) throw_too_deep();
    detail::count_value_work(1);
    switch (value.kind()) {
      case ValueKind::kNone:
        out += "null";
        return;
      case ValueKind::kBool:
        out += value.as_bool() ? "true" : "false";
        return;
      case ValueKind::kInt:
        out += std::to_string(value.as_int());
        return;
      case ValueKind::kFloat: {
        double d = value.as_double();
        out += std::isnan(d)   ? "NaN"
               : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity")
                               : format_float(d);
        return;
      }
      case ValueKind::kString:
        append_json_string(value.as_string(), format.ensure_ascii, out);
        return;
      case ValueKind::kList: {
        const ValueList& items = value.list();
        if (items.empty()) {
          out += "[]";
          return;
        }
        out += '[';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i > 0) out += item_separator;
          if (format.indent) newline(level + 1);
          write(items[i], level + 1);
        }
        if (format.indent) newline(level);
        out += ']';
        return;
      }
      case ValueKind::kDict: {
        std::vector<std::pair<std::string, const Value*>> members;
        for (const ValueDict::Entry& entry : value.dict().entries()) {
          members.emplace_back(json_key(entry.first), &entry.second);
        }
        if (members.empty()) {
          out += "{}";
          return;
        }
        if (format.sort_keys) {
          std::stable_sort(members.begin(), members.end(),
                           [](const auto& a, const auto& b) { return a.first < b.first; });
        }
        out += '{';
        for (size_t i = 0; i < members.size(); ++i) {
          if (i > 0) out += item_separator;
          if (format.indent) newline(level + 1);
          append_json_string(members[i].first, format.ensure_ascii, out);
          out += key_separator;
          write(*members[i].second, level + 1);
        }
        if (format.indent) newline(level);
        out += '}';
        return;
      }
      case ValueKind::kUndefined:
      case ValueKind::kNamespace:
      case ValueKind::kCallable:
        throw_render_error("Object of type " + std::string(value.type_name()) +
                           " is not JSON serializable");
    }
  }
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Public functions

std::string to_str(const Value& value) {
  if (value.is_string()) return value.as_string();
  std::string out;
  append_str(value, out, 0);
  return out;
}

std::string to_repr(const Value& value) {
  std::string out;
  append_repr(value, out, 0);
  return out;
}

std::string to_json(const Value& value, const JsonFormat& format) {
  std::string out;
  JsonWriter writer{format, format.indent ? "," : ", ", ": ", out};
  if (format.separators) {
    writer.item_separator = format.separators->first;
    writer.key_separator = format.separators->second;
  }
  writer.write(value, 0);
  return out;
}

std::string format_float(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  // The shortest digits that round-trip, in scientific form: "-1.2345e+17".
  char buffer[64];
  auto [end, ec] =
      std::to_chars(buffer, buffer + sizeof(buffer), value, std::chars_format::scientific);
  std::string_view text(buffer, static_cast<size_t>(end - buffer));
  std::string out;
  if (text.front() == '-') {
    out += '-';
    text.remove_prefix(1);
  }
  size_t e = text.find('e');
  std::string digits;
  for (char c : text.substr(0, e)) {
    if (c != '.') digits += c;
  }
  int exponent = 0;
  std::from_chars(text.data() + e + 1 + (text[e + 1] == '+' ? 1 : 0), text.data() + text.size(),
                  exponent);
  // Python's repr switches to exponent form outside 1e-4 <= |value| < 1e16.
  if (exponent < -4 || exponent >= 16) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out += digits.substr(1);
    }
    out += exponent < 0 ? "e-" : "e+";
    int magnitude = std::abs(exponent);
    if (magnitude < 10) out += '0';
    out += std::to_string(magnitude);
    return out;
  }
  if (exponent >= 0) {
    size_t integer_digits = static_cast<size_t>(exponent) + 1;
    if (digits.size() <= integer_digits) {
      out += digits;
      out.append(integer_digits - digits.size(), '0');
      out += ".0";
    } else {
      out += digits.substr(0, integer_digits);
      out += '.';
      out += digits.substr(integer_digits);
    }
  } else {
    out += "0.";
    out.append(static_cast<size_t>(-exponent - 1), '0');
    out += digits;
  }
  return out;
}

std::vector<size_t> utf8_char_offsets(std::string_view text) {
  std::vector<size_t> offsets;
  offsets.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    offsets.push_back(i);
    size_t next = i;
    decode_utf8(text, next);
    i = next;
  }
  return offsets;
}

size_t utf8_length(std::string_view text) {
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++n) decode_utf8(text, i);
  return n;
}

}  // namespace cove::chat::jinja
