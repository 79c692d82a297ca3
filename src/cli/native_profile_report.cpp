#include "cli/native_profile_report.hpp"

#include <algorithm>
#include <cstdio>

namespace akidb::embed::cli {

namespace {

nlohmann::json row(const std::string& name, double seconds, double flops, double forwards,
                   double wall, double peak) {
  nlohmann::json r = {{"step", name},
                      {"ms", 1e3 * seconds / forwards},
                      {"share_pct", wall > 0 ? 100.0 * seconds / wall : 0.0}};
  if (flops > 0 && seconds > 0) {
    const double gflops = flops / seconds / 1e9;
    r["gflops"] = gflops;
    if (peak > 0) r["peak_pct"] = 100.0 * gflops / peak;
  }
  return r;
}

}  // namespace

nlohmann::json native_profile_json(const NativeProfile& profile, const ProfileWindow& window) {
  const double forwards = double(std::max<std::uint64_t>(profile.forwards, 1));
  const double wall = window.wall_seconds;
  nlohmann::json rows = nlohmann::json::array();
  double accounted = 0, flops = 0;
  for (const auto& s : profile.steps) {
    rows.push_back(row(s.name, s.seconds, s.flops, forwards, wall, window.peak_gflops));
    accounted += s.seconds, flops += s.flops;
  }
  const double encoder = accounted;
  for (const auto& [name, seconds] : window.outside) {
    rows.push_back(row(name, seconds, 0, forwards, wall, 0));
    accounted += seconds;
  }
  rows.push_back(row("other", std::max(0.0, wall - accounted), 0, forwards, wall, 0));
  nlohmann::json out = {
      {"forwards", profile.forwards},
      {"wall_ms_per_forward", 1e3 * wall / forwards},
      {"encoder", row("encoder", encoder, flops, forwards, wall, window.peak_gflops)},
      {"rows", rows}};
  return out;
}

void print_native_profile(const std::string& title, const nlohmann::json& table) {
  std::printf("\n%s: %llu forward passes, %.3f ms wall per pass\n", title.c_str(),
              static_cast<unsigned long long>(table["forwards"].get<std::uint64_t>()),
              table["wall_ms_per_forward"].get<double>());
  std::printf("  %-16s %9s %7s %9s %7s\n", "step", "ms/pass", "share", "GFLOP/s", "%peak");
  const auto print = [](const nlohmann::json& r) {
    std::printf("  %-16s %9.4f %6.1f%%", r["step"].get<std::string>().c_str(),
                r["ms"].get<double>(), r["share_pct"].get<double>());
    if (r.contains("gflops")) std::printf(" %9.1f", r["gflops"].get<double>());
    if (r.contains("peak_pct")) std::printf(" %6.1f%%", r["peak_pct"].get<double>());
    std::printf("\n");
  };
  for (const auto& r : table["rows"]) print(r);
  print(table["encoder"]);
}

}  // namespace akidb::embed::cli
