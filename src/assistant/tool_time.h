// The current date/time tool, with time zones read from the system's zoneinfo (TZif) files.
//
// GCC 12's library has no std::chrono time-zone database, and setting TZ for localtime_r is
// process-global, so this file reads TZif v2+ files itself: the 64-bit transition table, and the
// POSIX TZ rule in the footer for instants after the last transition ("CET-1CEST,M3.5.0,M10.5.0/3").
// Zones are named as in the IANA database ("Europe/Paris"), as "UTC", or as a fixed offset
// ("+05:30", "UTC-8"). A name is only ever looked up under the zoneinfo directory: no absolute
// paths, no "..".
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "assistant/tools.h"
#include "core/result.h"

namespace cove::assistant {

// The offset from UTC in effect at one instant in one zone.
struct ZoneOffset {
  int utc_offset_seconds = 0;
  bool is_dst = false;
  std::string abbreviation;  // "CEST", "UTC", "+0530"
};

struct CivilTime {
  std::string iso8601;  // 2024-07-01T14:00:00+02:00
  std::string weekday;  // Monday
  ZoneOffset offset;
};

// A time zone, loaded once and then usable from any thread.
class TimeZone {
 public:
  // `zoneinfo_dir` is where IANA names are looked up.
  static Result<TimeZone> load(std::string_view name,
                               std::string_view zoneinfo_dir = "/usr/share/zoneinfo");
  // A TZif file's bytes (tests feed the real files and broken ones).
  static Result<TimeZone> from_tzif(std::string_view name, std::string_view bytes);
  static TimeZone utc();

  const std::string& name() const { return name_; }
  ZoneOffset offset_at(int64_t unix_seconds) const;
  CivilTime civil_time(int64_t unix_seconds) const;

 private:
  struct LocalType {
    int utc_offset = 0;
    bool is_dst = false;
    std::string abbreviation;
  };
  // A POSIX TZ rule: std (and optionally dst with its start/end rules).
  struct PosixRule {
    bool valid = false;
    LocalType standard, daylight;
    bool has_dst = false;
    // Each date: kind 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month, week, weekday).
    struct Date {
      char kind = 'M';
      int a = 0, b = 0, c = 0;
      int time = 7200;  // seconds after local midnight
    } start, end;
  };

  static Result<PosixRule> parse_posix_rule(std::string_view text);
  static ZoneOffset rule_offset(const PosixRule& rule, int64_t unix_seconds);

  std::string name_;
  std::vector<int64_t> transitions_;     // ascending unix seconds
  std::vector<uint8_t> transition_type_; // index into types_
  std::vector<LocalType> types_;
  PosixRule footer_;
};

struct TimeToolOptions {
  std::string default_timezone = "UTC";  // used when the call names none
  std::string zoneinfo_dir = "/usr/share/zoneinfo";
  // The clock; tests fix it.
  std::function<std::chrono::system_clock::time_point()> now = [] {
    return std::chrono::system_clock::now();
  };
};

// Tool `current_time`: {"timezone"?: string}.
ToolDefinition make_time_tool(TimeToolOptions options = {});

}  // namespace cove::assistant
