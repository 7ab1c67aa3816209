// The names of the one executable (a multi-call binary, like busybox): the name it is started
// as picks the part it runs. `npm run build` bundles each part from cmd/<part>/main.ts and makes
// every other name a link to the executable; the dispatcher (cmd/multicall/main.ts) reads this
// table too. Pure: no I/O.

/** The parts built into the executable; each is cmd/<part>/main.ts, exporting `run(argv)`. */
export const PARTS = ["kubectl-vol", "vol-csi", "vol-webhook"] as const;
export type Part = (typeof PARTS)[number];

/** The file name of the executable itself (krew installs it under this name). */
export const EXECUTABLE: Part = "kubectl-vol";

interface Name {
  /** The part it runs; undefined for a part this build does not have yet. */
  part?: Part;
  /** Words put before the arguments. */
  prefix?: string[];
  /** Why it does not run, when it has no part. */
  missing?: string;
}

export const NAMES: Record<string, Name> = {
  "kubectl-vol": { part: "kubectl-vol" },
  // kubectl's plugin completion protocol: kubectl runs kubectl_complete-vol with the words typed.
  "kubectl_complete-vol": { part: "kubectl-vol", prefix: ["__complete"] },
  "vol-csi": { part: "vol-csi" },
  "vol-webhook": { part: "vol-webhook" },
  "vol-controller": { missing: "the controller (snapshot schedules) is not part of this build yet" },
};

/** The names `npm run build` links to the executable (every name with a part, but its own). */
export function linkNames(): string[] {
  return Object.entries(NAMES)
    .filter(([n, v]) => v.part && n !== EXECUTABLE)
    .map(([n]) => n);
}

export type Dispatch = { part: Part; args: string[] } | { code: 1 | 2; message: string };

/** What to run when started as `argv0` (a path or a bare name; a `.exe` suffix is ignored). */
export function dispatch(argv0: string, args: string[]): Dispatch {
  const base = (argv0.split(/[\\/]/).pop() ?? "").replace(/\.exe$/i, "");
  const name = Object.hasOwn(NAMES, base) ? NAMES[base] : undefined;
  if (!name) {
    const known = Object.entries(NAMES)
      .filter(([, v]) => v.part)
      .map(([n]) => n);
    return {
      code: 2,
      message: `${base || argv0}: this executable runs as ${known.join(", ")} (the name it is started as picks the part): run it through a link of one of those names, e.g. ln -s ${EXECUTABLE} vol-csi`,
    };
  }
  if (!name.part) return { code: 1, message: `${base}: ${name.missing}` };
  return { part: name.part, args: [...(name.prefix ?? []), ...args] };
}
