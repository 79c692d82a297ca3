#pragma once
// The native engine's per-step profile (NativeEngine::profile()) as a table:
// ms per forward pass, share of the measured wall time, GFLOP/s and % of the
// FMA peak for the GEMMs and attention. Shared by `akidb-embed bench
// --profile` and akidb-native-bench --profile.
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "akidb/embed/native_engine.hpp"

namespace akidb::embed::cli {

struct ProfileWindow {
  double wall_seconds = 0;  // measured around the same passes, outside the engine
  double peak_gflops = 0;   // 0: no % of peak column
  // Time spent outside the encoder that the caller measured itself, e.g.
  // {"tokenize", s}, {"pool+normalize", s}: totals over the same passes.
  std::vector<std::pair<std::string, double>> outside;
};

// {"forwards", "wall_ms_per_forward", "rows": [{"step", "ms", "share_pct",
// "gflops", "peak_pct"}]}; the last row, "other", is the wall time no step
// or outside entry accounts for (pipeline, threads waking).
nlohmann::json native_profile_json(const NativeProfile& profile, const ProfileWindow& window);

void print_native_profile(const std::string& title, const nlohmann::json& table);

}  // namespace akidb::embed::cli
