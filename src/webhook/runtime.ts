// How the webhook process runs: its Node flags and environment. Apart from config.ts (which
// reads the shipped configurations with the full Kubernetes client) so that what runs the
// webhook, such as the benchmark's server process, can read them without loading that client.

/**
 * Node flags the webhook process runs with (`node <flags> cmd/vol-webhook/main.ts`, or
 * NODE_OPTIONS): a small young generation keeps the resident size low under load (about
 * 110 MiB instead of 160 MiB with 10,000 cached claims, see bench/results/webhook.md) at the
 * cost of more, shorter scavenges.
 */
export const WEBHOOK_NODE_FLAGS = ["--max-semi-space-size=2"];

/**
 * Environment of the webhook process, besides NODE_OPTIONS: two malloc arenas instead of one
 * per thread (the collector's helpers and libuv's pool each get one otherwise), some 20 MiB
 * less resident under load for no measurable latency (bench/results/webhook.md).
 */
export const WEBHOOK_ENV: Record<string, string> = { MALLOC_ARENA_MAX: "2" };
