// The dev stack on a real Docker engine (see devStack.test.ts) after the first deploy: restart of all six containers at
// once, re-creation of one container on its volume, destroy. The `up` runs without the smoke step and monitoring
// (devStack.test.ts covers them): each Docker test file stays well within its time bound on a busy host.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { assertDestroyLeavesNothing, BOOTSTRAP, NODE, SMOKE, assertKeys, field, hostCluster, onNode, runUp, setUp, tearDown, topology, waitClusterHealthy, type Fixture } from "./fixture";

let f: Fixture | undefined;
const keys = Array.from({ length: 300 }, (_, i) => `restart:${i}`);
before(async () => {
  f = await setUp({ smokeEnabled: false, monitoringEnabled: false });
});
after(() => tearDown(f, "docker dev stack recovery"));

const ids = async (fx: Fixture) => (await topology(fx)).map((l) => l.split(" ")[0]).sort();

test("up without the smoke step and monitoring: cluster_state:ok with replicas synced", async () => {
  const fx = f!;
  const r = await runUp(fx);
  assert.ok(r.ok, `pulumi up failed: ${r.error}`);
  fx.first = r;
  fx.password = r.outputs.redisPassword as string;
  assert.ok(!r.created.includes(SMOKE));
  await waitClusterHealthy(fx, 30_000);
  fx.timings.upToHealthy = `${r.doneAtMs[BOOTSTRAP]} ms (bootstrap done: formed, replicas synced)`;
});

test("docker restart of all six at once: the cluster comes back with every key", async () => {
  const fx = f!;
  const cluster = hostCluster(fx);
  try {
    for (const k of keys) await cluster.set(k, `v-${k}`);
  } finally {
    cluster.disconnect();
  }
  // Every write acknowledged by a replica too: nothing below tests asynchronous replication loss.
  for (let i = 0; i < 6; i++) {
    await onNode(fx, i, async (r) => {
      if (field((await r.info("replication")) as string, "role") === "master") assert.equal(await r.wait(1, 5000), 1);
    });
  }
  const before = await ids(fx);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: 6 }, (_, i) => fx.engine.docker.getContainer(NODE(i)).restart({ t: 10 })));
  await waitClusterHealthy(fx, 90_000);
  fx.timings.restartAllToHealthy = `${Date.now() - t0} ms`;
  assert.deepEqual(await ids(fx), before, "same node ids");
  await assertKeys(fx, keys);
});

test("re-creating one container on its volume (pulumi up --replace): it rejoins with its node id, every key is there", async () => {
  const fx = f!;
  const before = await ids(fx);
  const replaced = NODE(3);
  const oldId = (await fx.engine.docker.getContainer(replaced).inspect()).Id;
  const r = await runUp(fx, { replace: [replaced] });
  assert.ok(r.ok, r.error);
  assert.deepEqual(r.created, [replaced], "only that container; the bootstrap does not re-run");
  assert.notEqual((await fx.engine.docker.getContainer(replaced).inspect()).Id, oldId, "a new container");
  await waitClusterHealthy(fx, 90_000);
  assert.deepEqual(await ids(fx), before, "nodes.conf on the volume kept the node id");
  await assertKeys(fx, keys);
});

test("destroy leaves no container, volume or network behind", () => assertDestroyLeavesNothing(f!, 1));
