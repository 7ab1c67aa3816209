// The whole system end to end: the upstream snapshot-controller and CSI sidecars against our
// driver on two simulated nodes and our webhook, driven by `kubectl vol` and `kubectl apply`.
import { afterAll, beforeAll, describe, it } from "vitest";
import { type Ctx, makeCtx, scenarios } from "../../src/localcluster/scenarios.ts";
import { type System, startSystem } from "../../src/localcluster/system.ts";

let sys: System;
let ctx: Ctx;
const transcript: string[] = [];

beforeAll(async () => {
  sys = await startSystem({ fs: "btrfs", log: (l) => transcript.push(l) });
  ctx = await makeCtx(
    sys,
    "e2e",
    (l) => transcript.push(l),
    (cmd, r) => transcript.push(`$ ${cmd}\n${r.stdout}${r.stderr}`),
  );
  await ctx.sys.kubectl(["create", "namespace", "e2e"]);
}, 300_000);

afterAll(async () => {
  await sys?.stop();
});

describe.sequential("end to end", () => {
  for (const s of scenarios) {
    it(`scenario ${s.id}: ${s.title}`, async () => {
      try {
        await s.run(ctx);
      } catch (err) {
        (err as Error).message += `\n--- transcript ---\n${transcript.slice(-30).join("\n")}`;
        throw err;
      }
    }, 240_000);
  }
});
