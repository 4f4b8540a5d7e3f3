// current_time: the system's TZif files (transitions and the POSIX rule past the last one),
// fixed offsets, and zone names that try to leave the zoneinfo folder.
#include <gtest/gtest.h>

#include <filesystem>

#include "assistant/tool_time.h"

namespace cove::assistant {
namespace {

// 2024-07-01T12:00:00Z and 2024-01-15T12:00:00Z.
constexpr int64_t kJuly2024 = 1719835200;
constexpr int64_t kJanuary2024 = 1705320000;

bool have_zoneinfo() { return std::filesystem::exists("/usr/share/zoneinfo/Europe/Paris"); }

TEST(TimeZone, UtcAndFixedOffsets) {
  Result<TimeZone> utc = TimeZone::load("UTC");
  ASSERT_TRUE(utc.is_ok());
  EXPECT_EQ(utc->civil_time(kJuly2024).iso8601, "2024-07-01T12:00:00Z");
  EXPECT_EQ(utc->civil_time(kJuly2024).weekday, "Monday");
  Result<TimeZone> india = TimeZone::load("+05:30");
  ASSERT_TRUE(india.is_ok());
  EXPECT_EQ(india->civil_time(kJuly2024).iso8601, "2024-07-01T17:30:00+05:30");
  Result<TimeZone> west = TimeZone::load("UTC-8");
  ASSERT_TRUE(west.is_ok());
  EXPECT_EQ(west->civil_time(kJuly2024).iso8601, "2024-07-01T04:00:00-08:00");
  EXPECT_EQ(utc->civil_time(0).iso8601, "1970-01-01T00:00:00Z");
  EXPECT_EQ(utc->civil_time(-1).iso8601, "1969-12-31T23:59:59Z");
}

TEST(TimeZone, IanaZonesFollowDaylightSaving) {
  if (!have_zoneinfo()) GTEST_SKIP() << "no /usr/share/zoneinfo";
  Result<TimeZone> paris = TimeZone::load("Europe/Paris");
  ASSERT_TRUE(paris.is_ok()) << paris.message();
  EXPECT_EQ(paris->civil_time(kJuly2024).iso8601, "2024-07-01T14:00:00+02:00");
  EXPECT_EQ(paris->civil_time(kJuly2024).offset.abbreviation, "CEST");
  EXPECT_EQ(paris->civil_time(kJanuary2024).iso8601, "2024-01-15T13:00:00+01:00");
  EXPECT_EQ(paris->civil_time(kJanuary2024).offset.abbreviation, "CET");
  Result<TimeZone> new_york = TimeZone::load("America/New_York");
  ASSERT_TRUE(new_york.is_ok());
  EXPECT_EQ(new_york->civil_time(kJuly2024).iso8601, "2024-07-01T08:00:00-04:00");
  EXPECT_EQ(new_york->civil_time(kJanuary2024).iso8601, "2024-01-15T07:00:00-05:00");
  // Southern hemisphere: daylight saving across the new year.
  Result<TimeZone> sydney = TimeZone::load("Australia/Sydney");
  ASSERT_TRUE(sydney.is_ok());
  EXPECT_EQ(sydney->civil_time(kJanuary2024).offset.utc_offset_seconds, 11 * 3600);
  EXPECT_EQ(sydney->civil_time(kJuly2024).offset.utc_offset_seconds, 10 * 3600);
}

TEST(TimeZone, PosixRuleCoversInstantsPastTheTable) {
  if (!have_zoneinfo()) GTEST_SKIP() << "no /usr/share/zoneinfo";
  // 2100 is past every table (fat files end in 2037); the footer rule decides.
  Result<TimeZone> paris = TimeZone::load("Europe/Paris");
  ASSERT_TRUE(paris.is_ok());
  constexpr int64_t kJuly2100 = 4118083200;    // 2100-07-01T00:00:00Z
  constexpr int64_t kJanuary2100 = 4102444800; // 2100-01-01T00:00:00Z
  EXPECT_EQ(paris->civil_time(kJuly2100).iso8601, "2100-07-01T02:00:00+02:00");
  EXPECT_EQ(paris->civil_time(kJanuary2100).iso8601, "2100-01-01T01:00:00+01:00");
  // The switch: last Sunday of March 2100 is the 28th, at 01:00 UTC.
  constexpr int64_t kSwitch2100 = 4109878800;  // 2100-03-28T01:00:00Z
  EXPECT_EQ(paris->offset_at(kSwitch2100 - 1).utc_offset_seconds, 3600);
  EXPECT_EQ(paris->offset_at(kSwitch2100).utc_offset_seconds, 7200);
}

TEST(TimeZone, RefusesNamesThatLeaveTheZoneFolderAndBrokenFiles) {
  for (const char* name : {"../../etc/passwd", "/etc/localtime", "Europe/../../../etc/passwd",
                           "Europe/Paris\n", "", "Nowhere/Atlantis"}) {
    Result<TimeZone> zone = TimeZone::load(name);
    EXPECT_FALSE(zone.is_ok()) << name;
  }
  EXPECT_FALSE(TimeZone::from_tzif("x", "not a tzif file").is_ok());
  EXPECT_FALSE(TimeZone::from_tzif("x", std::string("TZif2") + std::string(100, '\xFF')).is_ok());
}

TEST(TimeTool, UsesTheClockAndTheRequestedZone) {
  TimeToolOptions options;
  options.now = [] { return std::chrono::system_clock::time_point(std::chrono::seconds(kJuly2024)); };
  ToolDefinition tool = make_time_tool(options);
  ToolResult utc = tool.handler(nlohmann::json::object());
  ASSERT_FALSE(utc.is_error) << utc.text;
  EXPECT_EQ(utc.text, "2024-07-01T12:00:00Z (Monday, UTC, UTC)");
  EXPECT_EQ(utc.structured["unix_time"], kJuly2024);
  ToolResult offset = tool.handler({{"timezone", "-03:00"}});
  EXPECT_EQ(offset.structured["iso8601"], "2024-07-01T09:00:00-03:00");
  ToolResult bad = tool.handler({{"timezone", "../etc/passwd"}});
  EXPECT_TRUE(bad.is_error);
  EXPECT_NE(bad.text.find("is not an IANA zone name"), std::string::npos);
}

}  // namespace
}  // namespace cove::assistant
