import { describe, expect, it } from "vitest";
import { describeError, OperationError, UsageError } from "../../../src/plugin/errors.ts";
import { renderList } from "../../../src/plugin/list.ts";
import {
  asList,
  noResources,
  OUTPUT_FORMATS,
  parseOutput,
  plain,
  printCreated,
  table,
  toYaml,
} from "../../../src/plugin/printers.ts";

const snap = { apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", metadata: { name: "s1" } };

describe("printers", () => {
  it("prints kind/name verbed, with kubectl's dry-run markers", () => {
    expect(printCreated("VolumeSnapshot", snap, "", "none")).toBe(
      "volumesnapshot.snapshot.storage.k8s.io/s1 created\n",
    );
    expect(printCreated("PersistentVolumeClaim", { metadata: { name: "c" } }, "", "client")).toBe(
      "persistentvolumeclaim/c created (dry run)\n",
    );
    expect(printCreated("PersistentVolumeClaim", { metadata: { name: "c" } }, "wide", "server")).toBe(
      "persistentvolumeclaim/c created (server dry run)\n",
    );
    expect(printCreated("VolumeSnapshot", snap, "name", "none")).toBe(
      "volumesnapshot.snapshot.storage.k8s.io/s1\n",
    );
    expect(JSON.parse(printCreated("VolumeSnapshot", snap, "json", "none"))).toEqual(snap);
    expect(printCreated("VolumeSnapshot", snap, "yaml", "none")).toBe(
      "apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata:\n  name: s1\n",
    );
  });

  it("hides metadata.managedFields in json and yaml, as kubectl get does", () => {
    const withFields = { ...snap, metadata: { name: "s1", managedFields: [{ manager: "kubectl" }] } };
    expect(JSON.parse(printCreated("VolumeSnapshot", withFields, "json", "none"))).toEqual(snap);
    expect(printCreated("VolumeSnapshot", withFields, "yaml", "none")).not.toContain("managedFields");
    expect(toYaml(asList([withFields]))).not.toContain("managedFields");
    // --show-managed-fields keeps them.
    expect(JSON.parse(printCreated("VolumeSnapshot", withFields, "json", "none", true))).toEqual(withFields);
    expect(toYaml(asList([withFields]), true)).toContain("managedFields");
  });

  it("writes timestamps as the API does", () => {
    const obj = { metadata: { creationTimestamp: new Date("2026-11-23T12:00:00Z") } };
    expect(plain(obj)).toEqual({ metadata: { creationTimestamp: "2026-11-23T12:00:00Z" } });
    expect(toYaml(obj)).toBe("metadata:\n  creationTimestamp: '2026-11-23T12:00:00Z'\n");
  });

  it("rejects an unknown -o with the one list of formats, as a usage error of the verb", () => {
    expect(parseOutput(undefined, "list")).toBe("");
    for (const f of OUTPUT_FORMATS) expect(parseOutput(f, "list")).toBe(f);
    const err = (() => {
      try {
        parseOutput("xml", "list");
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UsageError);
    expect(describeError(err)).toEqual({
      code: 2,
      text: "error: unable to match a printer suitable for the output format \"xml\", allowed formats are: json,yaml,name,wide\nSee 'kubectl vol list -h' for help and examples.",
    });
  });

  it("aligns table columns 3 spaces apart, upper-cases headers, shows <none> and hides wide columns", () => {
    const rows = [
      { a: "pvc/db", b: "", c: "true" },
      { a: "volumesnapshot/db-1", b: "pvc/db", c: "false" },
    ];
    const cols = [
      { header: "name", cell: (r: (typeof rows)[number]) => r.a },
      { header: "source", cell: (r: (typeof rows)[number]) => r.b },
      { header: "ready", priority: 1, cell: (r: (typeof rows)[number]) => r.c },
    ];
    expect(table(cols, rows, false)).toBe(
      "NAME                  SOURCE\npvc/db                <none>\nvolumesnapshot/db-1   pvc/db\n",
    );
    expect(table(cols, rows, true)).toBe(
      "NAME                  SOURCE   READY\npvc/db                <none>   true\nvolumesnapshot/db-1   pvc/db   false\n",
    );
  });

  it("says only what kubectl says when nothing is found, and wraps lists as v1 List", () => {
    expect(noResources("shop")).toBe("No resources found in shop namespace.\n");
    expect(noResources(undefined)).toBe("No resources found\n");
    expect(asList([snap])).toEqual({
      apiVersion: "v1",
      kind: "List",
      items: [snap],
      metadata: { resourceVersion: "" },
    });
  });
});

describe("describeError", () => {
  it("maps failures to exit codes", () => {
    expect(describeError(new OperationError('PVC "db" not found in namespace "shop"'))).toEqual({
      code: 1,
      text: 'error: PVC "db" not found in namespace "shop"',
    });
    expect(describeError(new UsageError("PVC is required", "snapshot"))).toEqual({
      code: 2,
      text: "error: PVC is required\nSee 'kubectl vol snapshot -h' for help and examples.",
    });
    expect(describeError(new Error("boom")).code).toBe(1);
    expect(describeError("text").text).toBe("error: text");
  });
});

describe("renderList", () => {
  it("prints an empty List for json and yaml, and only the notice on stderr otherwise", () => {
    const now = new Date();
    for (const output of ["", "wide", "name"] as const) {
      const err: string[] = [];
      expect(
        renderList([], { allNamespaces: false, output }, "shop", now, { write: (s) => err.push(s) }),
      ).toBe("");
      expect(err).toEqual(["No resources found in shop namespace.\n"]);
    }
    const err: string[] = [];
    const json = renderList([], { allNamespaces: true, output: "json" }, undefined, now, {
      write: (s) => err.push(s),
    });
    expect(JSON.parse(json)).toEqual({
      apiVersion: "v1",
      kind: "List",
      items: [],
      metadata: { resourceVersion: "" },
    });
    expect(err).toEqual([]);
  });
});
