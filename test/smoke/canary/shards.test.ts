// Pure: the canary's shard order, hash tags and choice among nodes' views, on CLUSTER NODES fixtures.
import { test } from "node:test";
import assert from "node:assert/strict";
import calculateSlot = require("cluster-key-slot");
import { parseClusterNodes } from "../../../smoke/topology";
import { pickView, shardOfKey, topologyOf } from "../../../smoke/canary/shards";

// Masters listed out of slot order; one replica failing; the view of a node that saw no failover yet.
const before = `
b 10.0.0.2:6379@16379 master - 0 0 2 connected 5461-10922
a 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-5460
c 10.0.0.3:6379@16379 master - 0 0 3 connected 10923-16383
d 10.0.0.4:6379@16379 slave a 0 0 1 connected
e 10.0.0.5:6379@16379 slave b 0 0 2 connected
f 10.0.0.6:6379@16379 slave,fail c 0 0 3 connected
`;
// After d took over a's slots (epoch 7): a is a failed master without slots.
const after = `
a 10.0.0.1:6379@16379 master,fail - 0 0 1 disconnected
b 10.0.0.2:6379@16379 master - 0 0 2 connected 5461-10922
c 10.0.0.3:6379@16379 master - 0 0 3 connected 10923-16383
d 10.0.0.4:6379@16379 myself,master - 0 0 7 connected 0-5460
e 10.0.0.5:6379@16379 slave b 0 0 2 connected
f 10.0.0.6:6379@16379 slave c 0 0 3 connected
`;

test("shards are masters with slots ordered by lowest slot, with their healthy replicas and a tag of their lowest slot", () => {
  const t = topologyOf(parseClusterNodes(before));
  assert.deepEqual(t.shards.map((s) => [s.label, s.master, s.replicas]), [
    ["0", "10.0.0.1:6379", ["10.0.0.4:6379"]],
    ["1", "10.0.0.2:6379", ["10.0.0.5:6379"]],
    ["2", "10.0.0.3:6379", []],
  ]);
  assert.deepEqual(t.shards.map((s) => calculateSlot(`canary:{${s.tag}}:x`)), [0, 5461, 10923]);
  assert.equal(t.nodes.length, 6);
  assert.equal(t.epoch, 3);
  assert.equal(shardOfKey(t, `canary:{${t.shards[1].tag}}:9`)?.label, "1");
});

test("the view with the newest epoch wins, whichever node answered first", () => {
  const old = topologyOf(parseClusterNodes(before));
  const fresh = topologyOf(parseClusterNodes(after));
  for (const views of [[old, fresh], [fresh, old]]) assert.equal(pickView(views)?.shards[0].master, "10.0.0.4:6379");
  assert.equal(pickView([]), undefined);
});

test("at one epoch a view missing a slot owner loses to a complete one", () => {
  const partial = topologyOf(parseClusterNodes(before.split("\n").filter((l) => !l.startsWith("c ")).join("\n")));
  const full = topologyOf(parseClusterNodes(before));
  assert.equal(partial.epoch, 2);
  const sameEpoch = { ...partial, epoch: full.epoch };
  assert.equal(pickView([sameEpoch, full])?.shards.length, 3);
});
