// netem-style values: what containerlab's flags accept, and errors that name the flag.
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "userspace/wan/impairment.h"
#include "userspace/wan/relay_service.h"

namespace qpspread::wan {
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

TEST(Impairment, APartialChangeKeepsTheOtherValues) {
  const Impairment before = parse_impairment("20ms", "1ms", "0.1", "1gbit");
  const ImpairmentChange c = parse_impairment_change(std::nullopt, std::nullopt, std::nullopt, "20mbit", std::nullopt, "--");
  const Impairment after = c.applied_to(before);
  EXPECT_EQ(after.rate_bps, 20000000u);
  EXPECT_EQ(after.delay_us, 20000u);
  EXPECT_EQ(after.jitter_us, 1000u);
  EXPECT_DOUBLE_EQ(after.loss_percent, 0.1);
  EXPECT_EQ(ImpairmentChange{}.applied_to(before), before);
  EXPECT_EQ(parse_impairment_change("0", std::nullopt, std::nullopt, std::nullopt, std::nullopt, "--").applied_to(before).delay_us, 0u);
}

TEST(Impairment, AChangeNamesTheKeyTheValueAndTheSyntax) {
  try {
    parse_impairment_change(std::nullopt, std::nullopt, std::nullopt, "20xbit", std::nullopt, "--");
    FAIL() << "accepted 20xbit";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(),
                 "--rate: '20xbit' is not a rate like 1gbit, 100mbit or 500kbit (bits per second; 0 = unlimited)");
  }
  try {
    parse_impairment_change(std::nullopt, std::nullopt, "150", std::nullopt, std::nullopt, "vars.impairment.");
    FAIL() << "accepted a loss of 150 %";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "vars.impairment.loss: '150' is not a loss in percent from 0 to 100, like 0.1");
  }
}

// WRED-style marking: KMIN,KMAX,PMAX; 0 below KMIN, linear to PMAX at KMAX, every frame above.
TEST(Ecn, ParsesFormatsAndRoundTrips) {
  const EcnMarking e = parse_ecn("--ecn", "20kb,100kb,10%");
  EXPECT_EQ(e.kmin_bytes, 20000u);
  EXPECT_EQ(e.kmax_bytes, 100000u);
  EXPECT_DOUBLE_EQ(e.pmax_percent, 10);
  EXPECT_EQ(format_ecn(e), "20kb,100kb,10%");
  EXPECT_EQ(parse_ecn("--ecn", format_ecn(e)), e);
  EXPECT_FALSE(parse_ecn("--ecn", "0").on());
  EXPECT_FALSE(parse_ecn("--ecn", "").on());
  EXPECT_EQ(format_ecn({}), "0");
  const Impairment imp = parse_impairment("10ms", "", "", "20mbit", "5kb,50kb,1");
  EXPECT_EQ(describe(imp), "delay 10ms rate 20mbit ecn 5kb,50kb,1%");
  EXPECT_EQ(impairment_from_json(to_json(imp)), imp);
  EXPECT_FALSE(parse_impairment("", "", "", "", "5kb,50kb,1").none());
}

TEST(Ecn, RefusesWithTheSyntax) {
  for (const char* bad : {"20kb", "20kb,100kb", "100kb,20kb,10", "20kb,20kb,10", "20kb,100kb,0", "20kb,100kb,101",
                          "20xb,100kb,10", "20kb,100kb,10,1"}) {
    try {
      parse_ecn("--ecn", bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("--ecn: '" + std::string(bad) + "'"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("20kb,100kb,10%"), std::string::npos) << e.what();
    }
  }
}

TEST(Ecn, ProbabilityIsZeroThenLinearThenOne) {
  const EcnMarking e{10000, 50000, 20};
  EXPECT_DOUBLE_EQ(e.probability(0), 0);
  EXPECT_DOUBLE_EQ(e.probability(9999), 0);
  EXPECT_DOUBLE_EQ(e.probability(10000), 0);
  EXPECT_DOUBLE_EQ(e.probability(30000), 0.1);
  EXPECT_DOUBLE_EQ(e.probability(49999), 0.2 * 39999 / 40000);
  EXPECT_DOUBLE_EQ(e.probability(50000), 1);
  EXPECT_DOUBLE_EQ(EcnMarking{}.probability(1 << 30), 0);
}

TEST(RelayControl, WrittenAsTheRelayReadsIt) {
  const std::string path =
      std::filesystem::temp_directory_path() / ("qps-control-" + std::to_string(::getpid()) + ".json");
  const Impairment imp = parse_impairment("20ms", "1ms", "0.5", "100mbit", "10kb,60kb,5%");
  write_control(path, imp);
  Impairment ab, ba;
  read_control(path, &ab, &ba);
  EXPECT_EQ(ab, imp);
  EXPECT_EQ(ba, imp);
  std::ofstream(path) << R"({"a_to_b": {"delay": "12ms"}, "b_to_a": {"rate": "1gbit"}})";
  read_control(path, &ab, &ba);
  EXPECT_EQ(ab.delay_us, 12000u);
  EXPECT_EQ(ba.rate_bps, 1000000000u);
  std::ofstream(path) << "{not json";
  EXPECT_THROW(read_control(path, &ab, &ba), Error);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace qpspread::wan
