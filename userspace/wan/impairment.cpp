#include "userspace/wan/impairment.h"

#include "common/error.h"

namespace qpspread::wan {

std::string describe(const Impairment& imp) {
  if (imp.none()) return "none";
  std::string s;
  auto add = [&s](const std::string& part) { s += (s.empty() ? "" : " ") + part; };
  if (imp.delay_us) add("delay " + format_duration_us(imp.delay_us));
  if (imp.jitter_us) add("jitter " + format_duration_us(imp.jitter_us));
  if (imp.loss_percent > 0) add("loss " + format_number(imp.loss_percent) + "%");
  if (imp.rate_bps) add("rate " + format_rate_bps(imp.rate_bps));
  return s;
}

Impairment parse_impairment(const std::string& delay, const std::string& jitter, const std::string& loss,
                            const std::string& rate) {
  Impairment imp;
  imp.delay_us = parse_duration_us("--delay", delay);
  imp.jitter_us = parse_duration_us("--jitter", jitter);
  imp.loss_percent = parse_loss_percent("--loss", loss);
  imp.rate_bps = parse_rate_bps("--rate", rate);
  return imp;
}

Impairment ImpairmentChange::applied_to(Impairment imp) const {
  if (delay_us) imp.delay_us = *delay_us;
  if (jitter_us) imp.jitter_us = *jitter_us;
  if (loss_percent) imp.loss_percent = *loss_percent;
  if (rate_bps) imp.rate_bps = *rate_bps;
  return imp;
}

ImpairmentChange parse_impairment_change(const std::optional<std::string>& delay,
                                         const std::optional<std::string>& jitter,
                                         const std::optional<std::string>& loss, const std::optional<std::string>& rate,
                                         const std::string& prefix) {
  ImpairmentChange c;
  if (delay) c.delay_us = parse_duration_us(prefix + "delay", *delay);
  if (jitter) c.jitter_us = parse_duration_us(prefix + "jitter", *jitter);
  if (loss) c.loss_percent = parse_loss_percent(prefix + "loss", *loss);
  if (rate) c.rate_bps = parse_rate_bps(prefix + "rate", *rate);
  return c;
}

nlohmann::json to_json(const Impairment& imp) {
  return {{"delay", format_duration_us(imp.delay_us)}, {"jitter", format_duration_us(imp.jitter_us)},
          {"loss", imp.loss_percent}, {"rate", format_rate_bps(imp.rate_bps)}};
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
    if (key != "delay" && key != "jitter" && key != "loss" && key != "rate")
      throw Error("impairment: unknown key \"" + key + "\" (known: delay, jitter, loss, rate)");
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
  return imp;
}

}  // namespace qpspread::wan
