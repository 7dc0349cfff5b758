// The backup manifest's parser (infra/backup/manifest.ts, on zod/mini for the backup bundle's weight): what it
// accepts, and its refusals naming each wrong field with zod's English messages (zod/mini loads no locale itself).
import { test } from "node:test";
import assert from "node:assert/strict";
import { MANIFEST_FILE, parseManifest } from "../../../infra/backup/manifest";

const shard = { nodeId: "a".repeat(40), addr: "10.0.0.1:6379", slots: [[0, 16383]], keys: 3, file: "n0.rdb", sha256: "b".repeat(64), bytes: 10, redisVersion: "7.2.4", rdbVersion: 11 };
const manifest = {
  kind: "redis-cluster-backup", format: 1, clusterId: "0123456789abcdef", startedAt: "t0", pauseStartedAt: "t1", cutAt: "t2", unpausedAt: "t3", endedAt: "t4",
  pauseMs: 1.5, pauseBoundMs: 100, transfer: "disk", shards: [shard],
};
const parse = (m: unknown) => parseManifest(JSON.stringify(m));
const refused = (m: unknown, fields: string) => assert.throws(() => parse(m), (e: Error) => (assert.equal(e.message, `${MANIFEST_FILE} is not a backup manifest: ${fields}`), true));

test("a backup manifest parses; unknown fields are dropped", () => {
  assert.deepEqual(parse(manifest), manifest);
  assert.deepEqual(parse({ ...manifest, later: 1, shards: [{ ...shard, later: 2 }] }), manifest);
});

test("a wrong manifest is refused naming every wrong field, in zod's English messages", () => {
  assert.throws(() => parseManifest("{"), { message: new RegExp(`^${MANIFEST_FILE} is not JSON: `) });
  refused([], "(root): Invalid input: expected object, received array");
  refused({ ...manifest, kind: "x", shards: [] }, 'kind: Invalid input: expected "redis-cluster-backup"; shards: Too small: expected array to have >=1 items');
  refused({ ...manifest, format: 2, endedAt: undefined }, "format: Invalid input: expected 1; endedAt: Invalid input: expected string, received undefined");
  refused({ ...manifest, pauseMs: "1", transfer: "tape" }, 'pauseMs: Invalid input: expected number, received string; transfer: Invalid option: expected one of "disk"|"diskless"');
  refused(
    { ...manifest, shards: [{ ...shard, nodeId: "A", slots: [[0, 16384]], keys: 1.5, rdbVersion: 0 }] },
    "shards.0.nodeId: Invalid string: must match pattern /^[0-9a-f]{40}$/; shards.0.slots.0.1: Too big: expected number to be <=16383; " +
      "shards.0.keys: Invalid input: expected int, received number; shards.0.rdbVersion: Too small: expected number to be >=1",
  );
});
