import { describe, expect, it } from "vitest";
import { dispatch, EXECUTABLE, linkNames, NAMES, PARTS } from "../../../src/exe/names.ts";

describe("the names of the one executable", () => {
  it("each name runs its part, whatever the path it is started by", () => {
    expect(dispatch("/usr/local/bin/kubectl-vol", ["list", "-A"])).toEqual({
      part: "kubectl-vol",
      args: ["list", "-A"],
    });
    expect(dispatch("/vol-csi", ["--help"])).toEqual({ part: "vol-csi", args: ["--help"] });
    expect(dispatch("vol-webhook", ["bootstrap-certs"])).toEqual({
      part: "vol-webhook",
      args: ["bootstrap-certs"],
    });
    expect(dispatch("C:\\bin\\vol-csi.exe", [])).toEqual({ part: "vol-csi", args: [] });
  });

  it("as kubectl_complete-vol it is the plugin's completion (kubectl passes the words)", () => {
    expect(dispatch("/home/u/.krew/bin/kubectl_complete-vol", ["list", "-o", ""])).toEqual({
      part: "kubectl-vol",
      args: ["__complete", "list", "-o", ""],
    });
  });

  it("a part not built yet fails (1) saying so; an unknown name is a usage error (2) naming the names", () => {
    expect(dispatch("/vol-controller", [])).toEqual({
      code: 1,
      message: "vol-controller: the controller (snapshot schedules) is not part of this build yet",
    });
    const unknown = dispatch("/opt/kvol", ["--help"]);
    expect(unknown).toMatchObject({ code: 2 });
    expect("message" in unknown && unknown.message).toBe(
      "kvol: this executable runs as kubectl-vol, kubectl_complete-vol, vol-csi, vol-webhook (the name it is started as picks the part): run it through a link of one of those names, e.g. ln -s kubectl-vol vol-csi",
    );
    // Names are looked up as keys, not through the prototype.
    expect(dispatch("constructor", [])).toMatchObject({ code: 2 });
  });

  it("the build links every runnable name but the executable's own, and every part has a name", () => {
    expect(linkNames().sort()).toEqual(["kubectl_complete-vol", "vol-csi", "vol-webhook"]);
    expect(linkNames()).not.toContain(EXECUTABLE);
    for (const p of PARTS) expect(NAMES[p]?.part).toBe(p);
  });
});
