// The schedule verb without a cluster: flags → options, the pure builder, the --list table, and
// the selector both the verb and the controller read.
import { describe, expect, it } from "vitest";
import { main } from "../../../src/plugin/cli.ts";
import { buildSchedule, parseSelector, renderSchedules, schedule } from "../../../src/plugin/schedule.ts";
import { matchesSelector, selectorString } from "../../../src/rules/schedule/spec.ts";

describe("label selectors", () => {
  it("parses kubectl's -l forms and prints them back", () => {
    const s = parseSelector("app=db,tier!=cache,env in (prod, staging),backup,!skip");
    expect(s).toEqual({
      matchLabels: { app: "db" },
      matchExpressions: [
        { key: "tier", operator: "NotIn", values: ["cache"] },
        { key: "env", operator: "In", values: ["prod", "staging"] },
        { key: "backup", operator: "Exists" },
        { key: "skip", operator: "DoesNotExist" },
      ],
    });
    expect(selectorString(s)).toBe("app=db,tier notin (cache),env in (prod,staging),backup,!skip");
    expect(() => parseSelector("a=b,,c")).toThrow(/an empty term/);
    expect(() => parseSelector("a b")).toThrow(/invalid selector term "a b"/);
  });
  it("matches labels as the API server does", () => {
    const s = parseSelector("app=db,env in (prod),!skip");
    expect(matchesSelector({ app: "db", env: "prod" }, s)).toBe(true);
    expect(matchesSelector({ app: "db", env: "dev" }, s)).toBe(false);
    expect(matchesSelector({ app: "db", env: "prod", skip: "" }, s)).toBe(false);
    expect(matchesSelector({}, {})).toBe(true);
    expect(matchesSelector({}, parseSelector("x notin (a)"))).toBe(true);
  });
});

describe("kubectl vol schedule options", () => {
  const opts = (argv: Record<string, unknown>) => schedule.options(argv);
  it("reads a claim schedule; the name defaults to the claim", () => {
    expect(opts({ claim: "db", every: "1h", keep: "24" })).toMatchObject({
      list: false,
      name: "db",
      changes: { claim: "db", every: "1h", keep: 24 },
    });
  });
  it.each([
    [{ claim: "db", selector: "a=b", name: "x" }, /a CLAIM or -l SELECTOR, not both/],
    [{ selector: "a=b", every: "1h" }, /needs --name/],
    [{}, /CLAIM, or -l SELECTOR with --name, is required/],
    [{ claim: "db", every: "1h", cron: "0 3 * * *" }, /--every or --cron, not both/],
    [{ claim: "db", every: "1.5h" }, /invalid value "1.5h" for --every/],
    [{ claim: "db", cron: "0 3 * *" }, /invalid --cron: "0 3 \* \*" has 4 fields/],
    [{ claim: "db", every: "1h", "time-zone": "UTC" }, /--time-zone goes with --cron/],
    [{ claim: "db", cron: "@daily", "time-zone": "Nowhere/Land" }, /not a known time zone/],
    [{ claim: "db", keep: "0" }, /--keep: give a whole number of at least 1/],
    [{ claim: "db", suspend: true, resume: true }, /--suspend or --resume, not both/],
    [{ claim: "db", list: true }, /--list takes no claim/],
    [{ list: true, group: true }, /--list takes no claim and no other flag .*--group/],
    [
      { claim: "db", group: true, every: "1h" },
      /--group takes the claims of -l SELECTOR as one group snapshot/,
    ],
    [{ claim: "x".repeat(64) }, /at most|no more than 63 characters/],
  ])("refuses %j", (args, message) => {
    expect(() => opts(args)).toThrow(message);
  });
  it("reads a group schedule: -l with --group, --class as given", () => {
    expect(
      opts({ selector: "app=shop", group: true, name: "shop", every: "1h", keep: "24", class: "g" }),
    ).toMatchObject({
      name: "shop",
      changes: {
        selector: { matchLabels: { app: "shop" } },
        group: true,
        every: "1h",
        keep: 24,
        snapshotClassName: "g",
      },
    });
    expect(opts({ selector: "app=shop", name: "shop", every: "1h" }).changes.group).toBeUndefined();
  });
  it("usage errors exit 2 through the CLI", async () => {
    const err: string[] = [];
    const sink = { write: (t: string) => err.push(t) };
    const argv = ["schedule", "db", "--every", "soon"];
    expect(await main(argv, { out: sink, err: sink, signal: new AbortController().signal })).toBe(2);
    expect(err.join("")).toMatch(/See 'kubectl vol schedule -h'/);
  });
});

describe("buildSchedule", () => {
  it("builds a new schedule from the flags", () => {
    expect(
      buildSchedule("shop", "db", { claim: "db", every: "1h", keep: 24, snapshotClassName: "fast" }),
    ).toEqual({
      apiVersion: "vol.kubectl.io/v1alpha1",
      kind: "SnapshotSchedule",
      metadata: { name: "db", namespace: "shop" },
      spec: { claim: "db", every: "1h", keep: 24, snapshotClassName: "fast" },
    });
  });
  it("updates an existing one: a timing replaces the other kind, suspend and resume, status dropped", () => {
    const existing = {
      apiVersion: "vol.kubectl.io/v1alpha1",
      kind: "SnapshotSchedule",
      metadata: { name: "db", namespace: "shop", resourceVersion: "7" },
      spec: { claim: "db", cron: "0 3 * * *", timeZone: "Europe/Berlin", keep: 7 },
      status: { result: "Succeeded" as const },
    };
    const moved = buildSchedule("shop", "db", { every: "2h", suspend: true }, existing);
    expect(moved.spec).toEqual({ claim: "db", every: "2h", keep: 7, suspend: true });
    expect(moved.metadata.resourceVersion).toBe("7");
    expect(moved.status).toBeUndefined();
    expect(existing.spec.cron).toBe("0 3 * * *"); // the input is not changed
    expect(buildSchedule("shop", "db", { suspend: false }, moved).spec.suspend).toBeUndefined();
    expect(buildSchedule("shop", "db", { selector: { matchLabels: { a: "b" } } }, moved).spec).toEqual({
      selector: { matchLabels: { a: "b" } },
      every: "2h",
      keep: 7,
      suspend: true,
    });
  });
});

describe("buildSchedule of a group schedule", () => {
  it("sets group with the selector; a claim target drops group and its class", () => {
    const g = buildSchedule("shop", "shop", {
      selector: { matchLabels: { app: "shop" } },
      group: true,
      groupSnapshotClassName: "vol-group-snapshots",
      every: "1h",
      keep: 3,
    });
    expect(g.spec).toEqual({
      selector: { matchLabels: { app: "shop" } },
      group: true,
      groupSnapshotClassName: "vol-group-snapshots",
      every: "1h",
      keep: 3,
    });
    expect(buildSchedule("shop", "shop", { claim: "db" }, g).spec).toEqual({
      claim: "db",
      every: "1h",
      keep: 3,
    });
  });
});

describe("schedule --list", () => {
  it("shows target, timing, LAST, NEXT, KEPT and RESULT", () => {
    const now = new Date("2026-12-01T12:00:00Z");
    const out = renderSchedules(
      [
        {
          metadata: { name: "db", namespace: "shop" },
          spec: { claim: "db", every: "1h", keep: 24 },
          status: {
            lastRunTime: "2026-12-01T11:00:00Z",
            nextRunTime: "2026-12-01T13:00:00Z",
            keptCount: 3,
            result: "Succeeded",
          },
        },
        {
          metadata: { name: "nightly", namespace: "shop" },
          spec: {
            selector: { matchLabels: { backup: "nightly" } },
            cron: "0 3 * * *",
            timeZone: "UTC",
            maxAge: "7d",
            suspend: true,
          },
        },
        {
          metadata: { name: "shop", namespace: "shop" },
          spec: { selector: { matchLabels: { app: "shop" } }, group: true, every: "1h", keep: 3 },
        },
      ],
      false,
      now,
      false,
    );
    expect(out).toBe(
      [
        "NAME      TARGET              SCHEDULE               KEEP     LAST     NEXT        KEPT   RESULT",
        "db        pvc/db              every 1h               24       60m      in 60m      3      Succeeded",
        "nightly   -l backup=nightly   cron 0 3 * * * (UTC)   max 7d   <none>   suspended   0      <none>",
        "shop      group -l app=shop   every 1h               3        <none>   <none>      0      <none>",
        "",
      ].join("\n"),
    );
  });
});

describe("list marks snapshots made by a schedule", () => {
  const now = new Date("2026-12-01T12:00:00Z");
  const pvc = {
    kind: "PersistentVolumeClaim" as const,
    obj: { metadata: { name: "db", namespace: "shop" } },
  };
  const snap = (name: string, labels?: Record<string, string>) => ({
    kind: "VolumeSnapshot" as const,
    obj: {
      metadata: { name, namespace: "shop", labels },
      spec: { source: { persistentVolumeClaimName: "db" } },
    },
  });
  const opts = { allNamespaces: false, output: "" as const };
  const sink = { write: () => undefined };
  it("adds a SCHEDULE column naming the schedule", async () => {
    const { renderList } = await import("../../../src/plugin/list.ts");
    const out = renderList(
      [pvc, snap("db-20261201-110000", { "vol.kubectl.io/schedule": "db" }), snap("by-hand")],
      opts,
      "shop",
      now,
      sink,
    );
    expect(out.split("\n")[0]).toMatch(/SOURCE\s+READY\s+SIZE\s+AGE\s+SCHEDULE$/);
    expect(out).toMatch(/volumesnapshot\/db-20261201-110000 .* db\n/);
    expect(out).toMatch(/volumesnapshot\/by-hand .* <none>\n/);
  });
  it("leaves the table as it was when nothing was scheduled", async () => {
    const { renderList } = await import("../../../src/plugin/list.ts");
    expect(renderList([pvc, snap("by-hand")], opts, "shop", now, sink)).not.toMatch(/SCHEDULE/);
  });
});
