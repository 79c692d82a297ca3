#pragma once
// Benchmarks that compare engines in one process must not let one engine's
// idle threads (ONNX Runtime's spinning intra-op pool, the native pool's
// spin-then-sleep workers) eat a core while the other is timed.
namespace akidb::embed::cli {

// This process's CPU time (all threads), in milliseconds.
double process_cpu_ms();

// Sleeps until no thread of this process burns CPU any more (under 0.5 ms of
// CPU in a 10 ms window), at most `max_seconds`. Returns the CPU ms of the
// last window: ~0 when the process went idle.
double wait_until_idle(double max_seconds = 2.0);

}  // namespace akidb::embed::cli
