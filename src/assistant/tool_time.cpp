// current_time tool: TZif and POSIX-TZ-rule time zones, civil time formatting (tool_time.h).
#include "assistant/tool_time.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace cove::assistant {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t& y, int& m, int& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = yoe + era * 400;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  y += m <= 2;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

std::string offset_text(int seconds, bool colon) {
  const char sign = seconds < 0 ? '-' : '+';
  const int abs_s = seconds < 0 ? -seconds : seconds;
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, colon ? "%c%02d:%02d" : "%c%02d%02d", sign, abs_s / 3600,
                (abs_s / 60) % 60);
  return buffer;
}

uint32_t read_be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
int64_t read_be64(const unsigned char* p) {
  return static_cast<int64_t>((uint64_t{read_be32(p)} << 32) | read_be32(p + 4));
}

// "+05:30", "-0800", "+5", "UTC+5", "GMT-03:30" -> seconds east of UTC.
bool parse_fixed_offset(std::string_view text, int& seconds) {
  for (std::string_view prefix : {"UTC", "GMT"}) {
    if (text.size() > prefix.size() && text.substr(0, prefix.size()) == prefix) {
      text.remove_prefix(prefix.size());
      break;
    }
  }
  if (text.size() < 2 || (text[0] != '+' && text[0] != '-')) return false;
  const int sign = text[0] == '-' ? -1 : 1;
  text.remove_prefix(1);
  int hours = 0, minutes = 0;
  size_t i = 0;
  auto digit = [&](size_t k) { return k < text.size() && text[k] >= '0' && text[k] <= '9'; };
  if (!digit(0)) return false;
  hours = text[i++] - '0';
  if (digit(i)) hours = hours * 10 + (text[i++] - '0');
  if (i < text.size() && text[i] == ':') ++i;
  if (i < text.size()) {
    if (!digit(i) || !digit(i + 1) || i + 2 != text.size()) return false;
    minutes = (text[i] - '0') * 10 + (text[i + 1] - '0');
  }
  if (hours > 14 || minutes > 59) return false;
  seconds = sign * (hours * 3600 + minutes * 60);
  return true;
}

bool is_safe_zone_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' || name.back() == '/') return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '+' || c == '/';
    if (!ok) return false;
  }
  // No "." at all, so no ".." component; also no empty components.
  return name.find("//") == std::string_view::npos;
}

}  // namespace

TimeZone TimeZone::utc() {
  TimeZone zone;
  zone.name_ = "UTC";
  zone.types_.push_back({0, false, "UTC"});
  return zone;
}

Result<TimeZone::PosixRule> TimeZone::parse_posix_rule(std::string_view text) {
  PosixRule rule;
  size_t i = 0;
  auto fail = [&](const std::string& what) {
    return Error{"TZ rule '" + std::string(text) + "' at " + std::to_string(i + 1) + ": " + what};
  };
  auto name = [&](std::string& out) -> bool {
    if (i < text.size() && text[i] == '<') {
      const size_t close = text.find('>', i);
      if (close == std::string_view::npos) return false;
      out = std::string(text.substr(i + 1, close - i - 1));
      i = close + 1;
      return !out.empty();
    }
    const size_t start = i;
    while (i < text.size() && ((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= 'A' && text[i] <= 'Z'))) {
      ++i;
    }
    out = std::string(text.substr(start, i - start));
    return out.size() >= 3;
  };
  auto number = [&](int max) -> int {
    int value = 0, n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n < 4) {
      value = value * 10 + (text[i++] - '0');
      ++n;
    }
    return n == 0 || value > max ? -1 : value;
  };
  // [+-]hh[:mm[:ss]] in seconds; `max_hours` 24 for offsets, 167 for rule times.
  auto hms = [&](int max_hours, int& out) -> bool {
    int sign = 1;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) sign = text[i++] == '-' ? -1 : 1;
    const int h = number(max_hours);
    if (h < 0) return false;
    int m = 0, s = 0;
    if (i < text.size() && text[i] == ':') {
      ++i;
      if ((m = number(59)) < 0) return false;
      if (i < text.size() && text[i] == ':') {
        ++i;
        if ((s = number(59)) < 0) return false;
      }
    }
    out = sign * (h * 3600 + m * 60 + s);
    return true;
  };
  auto date = [&](PosixRule::Date& out) -> bool {
    if (i >= text.size()) return false;
    if (text[i] == 'M') {
      ++i;
      out.kind = 'M';
      if ((out.a = number(12)) < 1 || i >= text.size() || text[i++] != '.') return false;
      if ((out.b = number(5)) < 1 || i >= text.size() || text[i++] != '.') return false;
      if ((out.c = number(6)) < 0) return false;
    } else if (text[i] == 'J') {
      ++i;
      out.kind = 'J';
      if ((out.a = number(365)) < 1) return false;
    } else {
      out.kind = 'D';
      if ((out.a = number(365)) < 0) return false;
    }
    out.time = 7200;
    if (i < text.size() && text[i] == '/') {
      ++i;
      return hms(167, out.time);
    }
    return true;
  };

  int offset = 0;
  if (!name(rule.standard.abbreviation)) return fail("expected a zone name");
  if (!hms(24, offset)) return fail("expected a UTC offset");
  rule.standard.utc_offset = -offset;  // POSIX offsets count west of Greenwich
  if (i < text.size()) {
    rule.has_dst = true;
    rule.daylight.is_dst = true;
    if (!name(rule.daylight.abbreviation)) return fail("expected a daylight-saving zone name");
    rule.daylight.utc_offset = rule.standard.utc_offset + 3600;
    if (i < text.size() && text[i] != ',') {
      if (!hms(24, offset)) return fail("expected a daylight-saving offset");
      rule.daylight.utc_offset = -offset;
    }
    if (i >= text.size() || text[i++] != ',' || !date(rule.start)) return fail("expected a start rule");
    if (i >= text.size() || text[i++] != ',' || !date(rule.end)) return fail("expected an end rule");
  }
  if (i != text.size()) return fail("unexpected text");
  rule.valid = true;
  return rule;
}

ZoneOffset TimeZone::rule_offset(const PosixRule& rule, int64_t t) {
  auto as_offset = [](const LocalType& type) {
    return ZoneOffset{type.utc_offset, type.is_dst, type.abbreviation};
  };
  if (!rule.has_dst) return as_offset(rule.standard);
  int64_t year = 0;
  int month = 0, day = 0;
  civil_from_days(floor_div(t + rule.standard.utc_offset, kSecondsPerDay), year, month, day);
  // Local midnight (as days since the epoch) of a rule's date in `year`.
  auto rule_day = [&](const PosixRule::Date& date) -> int64_t {
    const int64_t jan1 = days_from_civil(year, 1, 1);
    if (date.kind == 'J') return jan1 + date.a - 1 + (is_leap(year) && date.a >= 60 ? 1 : 0);
    if (date.kind == 'D') return jan1 + date.a;
    const int64_t first = days_from_civil(year, date.a, 1);
    const int weekday_first = static_cast<int>(((first % 7) + 11) % 7);  // 1970-01-01 was Thursday
    int64_t d = first + (date.c - weekday_first + 7) % 7 + 7 * (date.b - 1);
    const int64_t next_month =
        date.a == 12 ? days_from_civil(year + 1, 1, 1) : days_from_civil(year, date.a + 1, 1);
    while (d >= next_month) d -= 7;  // week 5 means "the last"
    return d;
  };
  // The start is given in standard time, the end in daylight time.
  const int64_t start = rule_day(rule.start) * kSecondsPerDay + rule.start.time -
                        rule.standard.utc_offset;
  const int64_t end = rule_day(rule.end) * kSecondsPerDay + rule.end.time - rule.daylight.utc_offset;
  const bool dst = start < end ? (t >= start && t < end) : (t >= start || t < end);
  return as_offset(dst ? rule.daylight : rule.standard);
}

Result<TimeZone> TimeZone::from_tzif(std::string_view name, std::string_view bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t size = bytes.size();
  auto fail = [&](const std::string& what) {
    return Error{"time zone '" + std::string(name) + "': " + what};
  };
  struct Counts {
    uint32_t isut, isstd, leap, time, type, chars;
  };
  auto header = [&](size_t at, Counts& c) -> bool {
    if (at + 44 > size || bytes.substr(at, 4) != "TZif") return false;
    const unsigned char* p = data + at + 20;
    c = {read_be32(p), read_be32(p + 4), read_be32(p + 8), read_be32(p + 12), read_be32(p + 16),
         read_be32(p + 20)};
    return c.type >= 1 && c.type <= 256 && c.time <= 100000 && c.chars <= 100000 &&
           c.leap <= 100000 && (c.isut == 0 || c.isut == c.type) &&
           (c.isstd == 0 || c.isstd == c.type);
  };
  auto block_size = [](const Counts& c, size_t time_size) {
    return c.time * time_size + c.time + c.type * 6 + c.chars + c.leap * (time_size + 4) +
           c.isstd + c.isut;
  };
  Counts v1{};
  if (!header(0, v1)) return fail("not a TZif file, or its header is invalid");
  const char version = size > 4 ? bytes[4] : 0;
  size_t at = 44;
  size_t time_size = 4;
  Counts c = v1;
  if (version >= '2') {
    at += block_size(v1, 4);
    if (!header(at, c)) return fail("the version 2 header is missing or invalid");
    at += 44;
    time_size = 8;
  }
  if (at + block_size(c, time_size) > size) return fail("the file is truncated");

  TimeZone zone;
  zone.name_ = std::string(name);
  const unsigned char* p = data + at;
  for (uint32_t k = 0; k < c.time; ++k, p += time_size) {
    zone.transitions_.push_back(time_size == 8 ? read_be64(p)
                                               : static_cast<int32_t>(read_be32(p)));
  }
  for (uint32_t k = 0; k < c.time; ++k, ++p) {
    if (*p >= c.type) return fail("a transition names a type that does not exist");
    zone.transition_type_.push_back(*p);
  }
  const unsigned char* types = p;
  const char* chars = reinterpret_cast<const char*>(p + c.type * 6);
  for (uint32_t k = 0; k < c.type; ++k) {
    const unsigned char* t = types + 6 * k;
    const int offset = static_cast<int32_t>(read_be32(t));
    if (offset < -26 * 3600 || offset > 26 * 3600) return fail("a UTC offset is out of range");
    const uint8_t index = t[5];
    if (index >= c.chars) return fail("an abbreviation index is out of range");
    const size_t length = strnlen(chars + index, c.chars - index);
    zone.types_.push_back({offset, t[4] != 0, std::string(chars + index, length)});
  }
  if (!std::is_sorted(zone.transitions_.begin(), zone.transitions_.end())) {
    return fail("the transitions are not in order");
  }
  at += block_size(c, time_size);
  if (version >= '2' && at < size && bytes[at] == '\n') {
    const size_t close = bytes.find('\n', at + 1);
    if (close == std::string_view::npos) return fail("the footer has no closing newline");
    const std::string_view footer = bytes.substr(at + 1, close - at - 1);
    if (!footer.empty()) {
      Result<PosixRule> rule = parse_posix_rule(footer);
      if (!rule) return fail(rule.message());
      zone.footer_ = *rule;
    }
  }
  return zone;
}

Result<TimeZone> TimeZone::load(std::string_view name, std::string_view zoneinfo_dir) {
  if (name == "UTC" || name == "Z" || name == "GMT" || name == "Etc/UTC") {
    TimeZone zone = utc();
    zone.name_ = std::string(name);
    return zone;
  }
  int seconds = 0;
  if (parse_fixed_offset(name, seconds)) {
    TimeZone zone;
    zone.name_ = std::string(name);
    zone.types_.push_back({seconds, false, offset_text(seconds, false)});
    return zone;
  }
  if (!is_safe_zone_name(name)) {
    return Error{"time zone '" + std::string(name) +
                 "' is not an IANA zone name (like Europe/Paris), UTC, or an offset (like +05:30)"};
  }
  const std::string path = std::string(zoneinfo_dir) + "/" + std::string(name);
  std::ifstream file(path, std::ios::binary);
  if (!file) return Error{"unknown time zone '" + std::string(name) + "'"};
  std::ostringstream contents;
  contents << file.rdbuf();
  const std::string bytes = contents.str();
  if (bytes.size() > (1u << 20)) return Error{"time zone '" + std::string(name) + "': file too large"};
  return from_tzif(name, bytes);
}

ZoneOffset TimeZone::offset_at(int64_t t) const {
  auto as_offset = [](const LocalType& type) {
    return ZoneOffset{type.utc_offset, type.is_dst, type.abbreviation};
  };
  if (transitions_.empty() || t >= transitions_.back()) {
    if (footer_.valid) return rule_offset(footer_, t);
    if (!transitions_.empty()) return as_offset(types_[transition_type_.back()]);
  }
  if (transitions_.empty() || t < transitions_.front()) {
    // Before the first transition: the first standard-time type (RFC 8536, section 3.2).
    for (const LocalType& type : types_) {
      if (!type.is_dst) return as_offset(type);
    }
    return as_offset(types_.front());
  }
  const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), t);
  const size_t index = static_cast<size_t>(it - transitions_.begin()) - 1;
  return as_offset(types_[transition_type_[index]]);
}

CivilTime TimeZone::civil_time(int64_t t) const {
  static constexpr const char* kWeekdays[] = {"Thursday", "Friday", "Saturday", "Sunday",
                                              "Monday",   "Tuesday", "Wednesday"};
  CivilTime out;
  out.offset = offset_at(t);
  const int64_t local = t + out.offset.utc_offset_seconds;
  const int64_t days = floor_div(local, kSecondsPerDay);
  const int64_t second_of_day = local - days * kSecondsPerDay;
  int64_t year = 0;
  int month = 0, day = 0;
  civil_from_days(days, year, month, day);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04lld-%02d-%02dT%02d:%02d:%02d",
                static_cast<long long>(year), month, day, static_cast<int>(second_of_day / 3600),
                static_cast<int>((second_of_day / 60) % 60), static_cast<int>(second_of_day % 60));
  out.iso8601 = std::string(buffer) + (out.offset.utc_offset_seconds == 0 && name_ == "UTC"
                                           ? "Z"
                                           : offset_text(out.offset.utc_offset_seconds, true));
  out.weekday = kWeekdays[((days % 7) + 7) % 7];
  return out;
}

ToolDefinition make_time_tool(TimeToolOptions options) {
  ToolDefinition tool;
  tool.spec.name = "current_time";
  tool.spec.description =
      "Get the current date and time. Optionally in a time zone: an IANA name such as "
      "Europe/Paris, UTC, or an offset such as +05:30.";
  tool.spec.parameters = {
      {"type", "object"},
      {"properties",
       {{"timezone",
         {{"type", "string"}, {"description", "IANA time zone, UTC, or an offset like +05:30"}}}}}};
  tool.handler = [options = std::move(options)](const nlohmann::json& arguments) {
    std::string zone_name = options.default_timezone;
    if (const auto it = arguments.find("timezone"); it != arguments.end() && it->is_string() &&
                                                    !it->get<std::string>().empty()) {
      zone_name = it->get<std::string>();
    }
    Result<TimeZone> zone = TimeZone::load(zone_name, options.zoneinfo_dir);
    if (!zone) return ToolResult::error("current_time: " + zone.message());
    const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                            options.now().time_since_epoch())
                            .count();
    const CivilTime civil = zone->civil_time(now);
    const std::string text = civil.iso8601 + " (" + civil.weekday + ", " + zone->name() + ", " +
                             civil.offset.abbreviation + ")";
    nlohmann::json structured = {{"iso8601", civil.iso8601},
                                 {"weekday", civil.weekday},
                                 {"timezone", zone->name()},
                                 {"abbreviation", civil.offset.abbreviation},
                                 {"utc_offset_seconds", civil.offset.utc_offset_seconds},
                                 {"is_dst", civil.offset.is_dst},
                                 {"unix_time", now}};
    return ToolResult::ok(text, std::move(structured));
  };
  return tool;
}

}  // namespace cove::assistant
