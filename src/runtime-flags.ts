// V8 flags for devnet's daemon, which carries every packet between the TUN
// and the tunnel.
//
// A 1 MiB semi-space (V8's young generation; Node's default lets it grow to
// 16 MiB on 64-bit) keeps each scavenge short and the nursery warm in the
// CPU cache. Measured on the real cluster, devnet-direct, paired runs
// (docs/benchmarks.md, "Kept: a small young generation for the daemon"): the
// daemon's CPU per pgbench transaction halved (about 1,140 µs → 520–720 µs),
// request/response p99 fell from 1.0–1.7 ms to 0.52–0.82 ms, and daemon
// memory per idle connection from 9.0–9.5 KiB to 6.0–6.4 KiB. The gateway
// showed no gain from the same flag, so it runs with Node's defaults.

/** DATA_PATH_V8_FLAGS go on the node command line of the daemon (src/cli/launch.ts). */
export const DATA_PATH_V8_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
