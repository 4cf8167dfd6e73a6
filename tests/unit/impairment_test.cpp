// netem-style values: what containerlab's flags accept, and errors that name the flag.
#include <gtest/gtest.h>

#include "common/error.h"
#include "userspace/wan/impairment.h"

namespace qpspread::lab {
namespace {

TEST(Impairment, ParsesDurationsRatesAndLoss) {
  EXPECT_EQ(parse_duration_us("--delay", "20ms"), 20000u);
  EXPECT_EQ(parse_duration_us("--delay", "1.5ms"), 1500u);
  EXPECT_EQ(parse_duration_us("--delay", "500us"), 500u);
  EXPECT_EQ(parse_duration_us("--delay", "2s"), 2000000u);
  EXPECT_EQ(parse_duration_us("--delay", "0"), 0u);
  EXPECT_EQ(parse_duration_us("--delay", ""), 0u);
  EXPECT_EQ(parse_rate_bps("--rate", "1gbit"), 1000000000u);
  EXPECT_EQ(parse_rate_bps("--rate", "100mbit"), 100000000u);
  EXPECT_EQ(parse_rate_bps("--rate", "500kbit"), 500000u);
  EXPECT_EQ(parse_rate_bps("--rate", "0"), 0u);
  EXPECT_DOUBLE_EQ(parse_loss_percent("--loss", "0.1"), 0.1);
  EXPECT_DOUBLE_EQ(parse_loss_percent("--loss", "5%"), 5);
}

TEST(Impairment, RejectsWithTheFlagAndAnExample) {
  try {
    parse_duration_us("--delay", "20xs");
    FAIL() << "accepted 20xs";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "--delay: '20xs' is not a duration like 20ms, 1.5ms or 500us");
  }
  for (const char* bad : {"20", "-1ms", "ms", "1e3ms"}) EXPECT_THROW(parse_duration_us("--delay", bad), Error) << bad;
  for (const char* bad : {"1gbps", "100", "fast"}) EXPECT_THROW(parse_rate_bps("--rate", bad), Error) << bad;
  for (const char* bad : {"101", "-1", "x"}) EXPECT_THROW(parse_loss_percent("--loss", bad), Error) << bad;
}

TEST(Impairment, FormatsAndRoundTripsThroughJson) {
  const Impairment imp = parse_impairment("20ms", "1500us", "0.1", "1gbit");
  EXPECT_EQ(format_duration_us(imp.jitter_us), "1500us");
  EXPECT_EQ(format_rate_bps(imp.rate_bps), "1gbit");
  EXPECT_EQ(describe(imp), "delay 20ms jitter 1500us loss 0.1% rate 1gbit");
  EXPECT_EQ(impairment_from_json(to_json(imp)), imp);
  EXPECT_EQ(impairment_from_json(nlohmann::json::parse(R"({"delay": "5ms"})")).delay_us, 5000u);
  EXPECT_THROW(impairment_from_json(nlohmann::json::parse(R"({"delay": 5})")), Error);
  EXPECT_THROW(impairment_from_json(nlohmann::json::parse(R"({"dleay": "5ms"})")), Error);
}

}  // namespace
}  // namespace qpspread::lab
