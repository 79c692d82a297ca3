#pragma once
// Measures this machine's peak fp32 multiply-add rate: independent FMA
// chains in registers on `threads` threads at once, for about `seconds`.
namespace akidb::embed::cli {

double measure_peak_gflops(int threads, double seconds);

}  // namespace akidb::embed::cli
