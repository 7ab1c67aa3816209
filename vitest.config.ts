import { defineConfig } from "vitest/config";

// Unit tests are pure and fast; integration, conformance and end-to-end tests start real
// components, so at most two files run at once (the machines have two cores).
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 240_000,
    teardownTimeout: 60_000,
  },
});
