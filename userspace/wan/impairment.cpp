#include "userspace/wan/impairment.h"

#include "common/error.h"

namespace qpspread::wan {

double EcnMarking::probability(uint64_t q) const {
  if (!on() || q < kmin_bytes) return 0;
  if (q >= kmax_bytes) return 1;
  return pmax_percent / 100 * static_cast<double>(q - kmin_bytes) / static_cast<double>(kmax_bytes - kmin_bytes);
}

EcnMarking parse_ecn(const std::string& flag, const std::string& value) {
  if (value.empty() || value == "0") return {};
  const std::string syntax = "KMIN,KMAX,PMAX: queue sizes and a marking percent like 20kb,100kb,10%";
  const auto c1 = value.find(',');
  const auto c2 = c1 == std::string::npos ? c1 : value.find(',', c1 + 1);
  if (c2 == std::string::npos || value.find(',', c2 + 1) != std::string::npos)
    throw Error(flag + ": '" + value + "' is not " + syntax);
  EcnMarking e;
  try {
    e.kmin_bytes = parse_size_bytes(flag, value.substr(0, c1));
    e.kmax_bytes = parse_size_bytes(flag, value.substr(c1 + 1, c2 - c1 - 1));
    e.pmax_percent = parse_loss_percent(flag, value.substr(c2 + 1));
  } catch (const Error&) {
    throw Error(flag + ": '" + value + "' is not " + syntax);
  }
  if (e.kmax_bytes <= e.kmin_bytes || e.pmax_percent <= 0)
    throw Error(flag + ": '" + value + "': KMIN must be below KMAX and PMAX above 0 (" + syntax + ")");
  return e;
}

std::string format_ecn(const EcnMarking& e) {
  if (!e.on()) return "0";
  return format_size_bytes(e.kmin_bytes) + "," + format_size_bytes(e.kmax_bytes) + "," + format_number(e.pmax_percent) + "%";
}

std::string describe(const Impairment& imp) {
  if (imp.none()) return "none";
  std::string s;
  auto add = [&s](const std::string& part) { s += (s.empty() ? "" : " ") + part; };
  if (imp.delay_us) add("delay " + format_duration_us(imp.delay_us));
  if (imp.jitter_us) add("jitter " + format_duration_us(imp.jitter_us));
  if (imp.loss_percent > 0) add("loss " + format_number(imp.loss_percent) + "%");
  if (imp.rate_bps) add("rate " + format_rate_bps(imp.rate_bps));
  if (imp.ecn.on()) add("ecn " + format_ecn(imp.ecn));
  return s;
}

Impairment parse_impairment(const std::string& delay, const std::string& jitter, const std::string& loss,
                            const std::string& rate, const std::string& ecn) {
  Impairment imp;
  imp.ecn = parse_ecn("--ecn", ecn);
  imp.delay_us = parse_duration_us("--delay", delay);
  imp.jitter_us = parse_duration_us("--jitter", jitter);
  imp.loss_percent = parse_loss_percent("--loss", loss);
  imp.rate_bps = parse_rate_bps("--rate", rate);
  return imp;
}

ImpairmentChange ImpairmentChange::all_of(const Impairment& imp) {
  return {imp.delay_us, imp.jitter_us, imp.loss_percent, imp.rate_bps, imp.ecn};
}

Impairment ImpairmentChange::applied_to(Impairment imp) const {
  if (ecn) imp.ecn = *ecn;
  if (delay_us) imp.delay_us = *delay_us;
  if (jitter_us) imp.jitter_us = *jitter_us;
  if (loss_percent) imp.loss_percent = *loss_percent;
  if (rate_bps) imp.rate_bps = *rate_bps;
  return imp;
}

ImpairmentChange parse_impairment_change(const std::optional<std::string>& delay,
                                         const std::optional<std::string>& jitter,
                                         const std::optional<std::string>& loss, const std::optional<std::string>& rate,
                                         const std::optional<std::string>& ecn, const std::string& prefix) {
  ImpairmentChange c;
  if (ecn) c.ecn = parse_ecn(prefix + "ecn", *ecn);
  if (delay) c.delay_us = parse_duration_us(prefix + "delay", *delay);
  if (jitter) c.jitter_us = parse_duration_us(prefix + "jitter", *jitter);
  if (loss) c.loss_percent = parse_loss_percent(prefix + "loss", *loss);
  if (rate) c.rate_bps = parse_rate_bps(prefix + "rate", *rate);
  return c;
}

nlohmann::json to_json(const Impairment& imp) {
  return {{"delay", format_duration_us(imp.delay_us)}, {"jitter", format_duration_us(imp.jitter_us)},
          {"loss", imp.loss_percent}, {"rate", format_rate_bps(imp.rate_bps)}, {"ecn", format_ecn(imp.ecn)}};
}

Impairment impairment_from_json(const nlohmann::json& j) {
  if (!j.is_object()) throw Error("impairment: expected an object like {\"delay\": \"20ms\", \"loss\": 0.1}");
  auto text = [&j](const char* key) -> std::string {
    if (!j.contains(key) || j[key].is_null()) return "";
    if (j[key].is_string()) return j[key].get<std::string>();
    if (j[key].is_number() && j[key].get<double>() == 0) return "0";
    throw Error(std::string("\"") + key + "\": " + j[key].dump() + " is not a string like those of the --" + key + " flag");
  };
  for (const auto& [key, _] : j.items())
    if (key != "delay" && key != "jitter" && key != "loss" && key != "rate" && key != "ecn")
      throw Error("impairment: unknown key \"" + key + "\" (known: delay, jitter, loss, rate, ecn)");
  Impairment imp;
  imp.delay_us = parse_duration_us("\"delay\"", text("delay"));
  imp.jitter_us = parse_duration_us("\"jitter\"", text("jitter"));
  if (j.contains("loss") && j["loss"].is_number()) {
    imp.loss_percent = j["loss"].get<double>();
    if (!(imp.loss_percent >= 0 && imp.loss_percent <= 100))
      throw Error("\"loss\": " + j["loss"].dump() + " is not a loss in percent from 0 to 100");
  } else {
    imp.loss_percent = parse_loss_percent("\"loss\"", text("loss"));
  }
  imp.rate_bps = parse_rate_bps("\"rate\"", text("rate"));
  imp.ecn = parse_ecn("\"ecn\"", text("ecn"));
  return imp;
}

}  // namespace qpspread::wan
