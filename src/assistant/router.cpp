// The model router (router.h): request features, the complexity score, rule matching (with the
// PCRE2 Pattern of config.h) and the fallback chain, each step explained in words.
#include "assistant/router.h"

#include <algorithm>
#include <cctype>
#include <cstdio>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

namespace cove::assistant {

// ---------------------------------------------------------------------------------------------
// Pattern (PCRE2)

Result<Pattern> Pattern::compile(const std::string& source) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
                                   PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &error_code,
                                   &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR buffer[256];
    pcre2_get_error_message(error_code, buffer, sizeof(buffer));
    return Error{"invalid regex at offset " + std::to_string(error_offset) + ": " +
                 reinterpret_cast<const char*>(buffer)};
  }
  Pattern p;
  p.source_ = source;
  p.code_ =
      std::shared_ptr<void>(code, [](void* c) { pcre2_code_free(static_cast<pcre2_code*>(c)); });
  return p;
}

std::optional<std::string> Pattern::search(const std::string& text) const {
  auto* code = static_cast<pcre2_code*>(code_.get());
  if (code == nullptr) return std::nullopt;
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  // A bounded match: a pathological pattern on a long message fails to match rather than hang.
  pcre2_match_context* mc = pcre2_match_context_create(nullptr);
  pcre2_set_match_limit(mc, 1000000);
  pcre2_set_depth_limit(mc, 10000);
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0, md, mc);
  std::optional<std::string> found;
  if (rc > 0) {
    PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    found = text.substr(ov[0], ov[1] - ov[0]);
  }
  pcre2_match_context_free(mc);
  pcre2_match_data_free(md);
  return found;
}

namespace {

std::string fixed2(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

std::string lower_ascii(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool is_word_byte(unsigned char c) {
  return std::isalnum(c) || c == '_' || c >= 0x80;
}

// Whether `keyword` occurs in `text` as a whole word, ignoring ASCII case.
bool contains_word(const std::string& lowered_text, const std::string& keyword) {
  const std::string k = lower_ascii(keyword);
  if (k.empty()) return false;
  for (size_t pos = lowered_text.find(k); pos != std::string::npos;
       pos = lowered_text.find(k, pos + 1)) {
    const bool start_ok = pos == 0 || !is_word_byte(lowered_text[pos - 1]) ||
                          !is_word_byte(static_cast<unsigned char>(k.front()));
    const size_t end = pos + k.size();
    const bool end_ok = end == lowered_text.size() || !is_word_byte(lowered_text[end]) ||
                        !is_word_byte(static_cast<unsigned char>(k.back()));
    if (start_ok && end_ok) return true;
  }
  return false;
}

std::string quote_excerpt(const std::string& s) {
  std::string e = s.size() > 40 ? s.substr(0, 40) + "..." : s;
  for (char& c : e) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return "\"" + e + "\"";
}

// One condition's verdict.
struct Check {
  bool holds;
  std::string why;
};

// Evaluates every condition of `rule`; the rule matches when all hold.
std::vector<Check> evaluate(const RouteRule& rule, const RequestFeatures& f, double complexity,
                            const std::string& lowered) {
  std::vector<Check> checks;
  const std::string n = std::to_string(f.chars);
  if (rule.min_chars) {
    const bool ok = f.chars >= *rule.min_chars;
    checks.push_back(
        {ok, n + " chars " + (ok ? ">=" : "<") + " min_chars " + std::to_string(*rule.min_chars)});
  }
  if (rule.max_chars) {
    const bool ok = f.chars <= *rule.max_chars;
    checks.push_back(
        {ok, n + " chars " + (ok ? "<=" : ">") + " max_chars " + std::to_string(*rule.max_chars)});
  }
  if (!rule.keywords.empty()) {
    std::string found;
    for (const std::string& k : rule.keywords) {
      if (contains_word(lowered, k)) {
        found = k;
        break;
      }
    }
    checks.push_back(
        {!found.empty(), found.empty() ? "no keyword found" : "keyword '" + found + "'"});
  }
  if (rule.regex) {
    std::optional<std::string> m = rule.regex->search(f.text);
    checks.push_back(
        {m.has_value(), m ? "regex /" + rule.regex->source() + "/ matched " + quote_excerpt(*m)
                          : "regex /" + rule.regex->source() + "/ did not match"});
  }
  const std::string c = fixed2(complexity);
  if (rule.min_complexity) {
    const bool ok = complexity >= *rule.min_complexity;
    checks.push_back({ok, "complexity " + c + (ok ? " >= " : " < ") + "min_complexity " +
                              fixed2(*rule.min_complexity)});
  }
  if (rule.max_complexity) {
    const bool ok = complexity <= *rule.max_complexity;
    checks.push_back({ok, "complexity " + c + (ok ? " <= " : " > ") + "max_complexity " +
                              fixed2(*rule.max_complexity)});
  }
  if (rule.tools) {
    const bool ok = f.tools_offered == *rule.tools;
    checks.push_back(
        {ok, std::string(f.tools_offered ? "tools offered" : "no tools offered") +
                 (ok ? "" : ", rule wants " + std::string(*rule.tools ? "tools" : "none"))});
  }
  return checks;
}

}  // namespace

RequestFeatures extract_features(std::string text, std::string explicit_model, bool tools_offered) {
  RequestFeatures f;
  f.text = std::move(text);
  f.explicit_model = std::move(explicit_model);
  f.tools_offered = tools_offered;
  for (unsigned char c : f.text) {
    if ((c & 0xC0) != 0x80) ++f.chars;  // count lead bytes: code points of valid UTF-8
  }
  int fences = 0;
  for (size_t pos = f.text.find("```"); pos != std::string::npos;
       pos = f.text.find("```", pos + 3)) {
    ++fences;
  }
  f.code_blocks = (fences + 1) / 2;
  // "Why? Really??" asks two questions; a run of marks is one.
  for (size_t i = 0; i < f.text.size(); ++i) {
    if (f.text[i] == '?' && (i + 1 == f.text.size() || f.text[i + 1] != '?')) ++f.questions;
  }
  return f;
}

Complexity complexity_of(const RequestFeatures& f) {
  Complexity c;
  c.length = 0.3 * std::min(1.0, static_cast<double>(f.chars) / 2000.0);
  c.code = 0.3 * std::min(1.0, f.code_blocks / 2.0);
  c.questions = 0.2 * std::min(1.0, f.questions / 3.0);
  c.tools = f.tools_offered ? 0.2 : 0.0;
  return c;
}

std::string Complexity::to_string() const {
  return fixed2(total()) + " (length " + fixed2(length) + ", code " + fixed2(code) +
         ", questions " + fixed2(questions) + ", tools " + fixed2(tools) + ")";
}

Result<RouteDecision> route(const RequestFeatures& features, const Config& config,
                            const ModelLoads& loads) {
  RouteDecision d;
  d.complexity = complexity_of(features);
  if (config.models.empty()) return Error{"no models configured", "no_model_available"};
  std::string primary;
  if (!features.explicit_model.empty()) {
    if (config.find_model(features.explicit_model) == nullptr) {
      std::string known;
      for (const ModelConfig& m : config.models) known += (known.empty() ? "" : ", ") + m.name;
      return Error{"unknown model '" + features.explicit_model + "' (configured: " + known + ")",
                   "unknown_model"};
    }
    primary = features.explicit_model;
    d.chosen_by = "explicit";
    d.reasons.push_back("the request names model '" + primary + "'");
  } else {
    const std::string lowered = lower_ascii(features.text);
    const double complexity = d.complexity.total();
    for (const RouteRule& rule : config.routes.rules) {
      std::vector<Check> checks = evaluate(rule, features, complexity, lowered);
      auto failed =
          std::find_if(checks.begin(), checks.end(), [](const Check& c) { return !c.holds; });
      if (failed != checks.end()) {
        d.reasons.push_back("rule '" + rule.name + "' skipped: " + failed->why);
        continue;
      }
      std::string why;
      for (const Check& c : checks) why += (why.empty() ? "" : "; ") + c.why;
      d.reasons.push_back("rule '" + rule.name + "' matched (" + why + ") -> '" + rule.model + "'");
      primary = rule.model;
      d.rule = rule.name;
      d.chosen_by = "rule";
      break;
    }
    if (primary.empty()) {
      primary = config.routes.default_model.empty() ? config.models.front().name
                                                    : config.routes.default_model;
      d.chosen_by = "default";
      d.reasons.push_back(
          std::string(config.routes.rules.empty() ? "no rules" : "no rule matched") +
          ": default model '" + primary + "'" +
          (config.routes.default_model.empty() ? " (the first configured)" : ""));
    }
  }

  // Candidates: the choice, its own fallbacks, then the global chain; names the config does not
  // know are skipped (load_config already rejects them).
  std::vector<std::string> chain{primary};
  auto add = [&](const std::string& name) {
    if (config.find_model(name) != nullptr &&
        std::find(chain.begin(), chain.end(), name) == chain.end()) {
      chain.push_back(name);
    }
  };
  if (const ModelConfig* m = config.find_model(primary)) {
    for (const std::string& f : m->fallback) add(f);
  }
  for (const std::string& f : config.routes.fallback) add(f);

  std::string unavailable;
  for (size_t i = 0; i < chain.size(); ++i) {
    const ModelConfig& m = *config.find_model(chain[i]);
    auto it = loads.find(m.name);
    std::string why;
    if (it != loads.end() && it->second.failed) {
      why = "failed" + (it->second.error.empty() ? "" : ": " + it->second.error);
    } else if (it != loads.end() && m.max_concurrent > 0 && it->second.active >= m.max_concurrent) {
      why = "overloaded (" + std::to_string(it->second.active) + "/" +
            std::to_string(m.max_concurrent) + " requests in flight)";
    }
    if (!why.empty()) {
      d.reasons.push_back("'" + m.name + "' is " + why +
                          (i + 1 < chain.size() ? ", trying '" + chain[i + 1] + "'" : ""));
      unavailable += (unavailable.empty() ? "" : "; ") + m.name + " " + why;
      continue;
    }
    d.model = m.name;
    d.fallbacks.assign(chain.begin() + static_cast<std::ptrdiff_t>(i) + 1, chain.end());
    d.reasons.push_back(
        "using '" + m.name + "'" +
        (i > 0 ? " (fallback " + std::to_string(i) + " of " + std::to_string(chain.size() - 1) + ")"
               : ""));
    return d;
  }
  return Error{"no model available: " + unavailable, "no_model_available"};
}

}  // namespace cove::assistant
