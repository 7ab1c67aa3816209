// A clone or restore of node-local data is placed on the node that holds its source.
import { describe, expect, it } from "vitest";
import { defaultClaim, memoryLookup, SELECTED_NODE, SNAPSHOT_MANAGED_BY } from "../../../src/rules/index.ts";
import { content, db, fromSource, world } from "./fixtures.ts";

const onNode = (node: string) => {
  const c = db();
  c.metadata!.annotations = { [SELECTED_NODE]: node };
  return c;
};

describe("defaultClaim: the source's node", () => {
  it("puts a clone on the node its source PVC was provisioned on", async () => {
    const lookup = memoryLookup(world({ pvcs: [onNode("node-a")] }));
    const { claim } = await defaultClaim(fromSource("PersistentVolumeClaim", "db"), lookup);
    expect(claim.metadata?.annotations?.[SELECTED_NODE]).toBe("node-a");
  });

  it("puts a restore on the node whose snapshotter owns the content, even when the source PVC is gone", async () => {
    const owned = content("snapcontent-1");
    owned.metadata.labels = { [SNAPSHOT_MANAGED_BY]: "node-b" };
    const lookup = memoryLookup(world({ pvcs: [], volumeSnapshotContents: [owned] }));
    const { claim } = await defaultClaim(fromSource("VolumeSnapshot", "db-snap"), lookup);
    expect(claim.metadata?.annotations?.[SELECTED_NODE]).toBe("node-b");
  });

  it("falls back to the snapshotted PVC's node, and never overrides a node already chosen", async () => {
    const lookup = memoryLookup(world({ pvcs: [onNode("node-a")] }));
    const { claim } = await defaultClaim(fromSource("VolumeSnapshot", "db-snap"), lookup);
    expect(claim.metadata?.annotations?.[SELECTED_NODE]).toBe("node-a");
    const chosen = fromSource("VolumeSnapshot", "db-snap");
    chosen.metadata!.annotations = { [SELECTED_NODE]: "node-c" };
    const again = await defaultClaim(chosen, lookup);
    expect(again.claim.metadata?.annotations?.[SELECTED_NODE]).toBe("node-c");
  });

  it("adds nothing for storage that is not node-bound, and is idempotent", async () => {
    const lookup = memoryLookup(world());
    const { claim } = await defaultClaim(fromSource("PersistentVolumeClaim", "db"), lookup);
    expect(claim.metadata?.annotations?.[SELECTED_NODE]).toBeUndefined();
    const placed = await defaultClaim(
      fromSource("PersistentVolumeClaim", "db"),
      memoryLookup(world({ pvcs: [onNode("n")] })),
    );
    const twice = await defaultClaim(placed.claim, memoryLookup(world({ pvcs: [onNode("n")] })));
    expect(twice.claim).toEqual(placed.claim);
  });
});
