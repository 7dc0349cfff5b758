import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { sleep } from "../../../smoke/time";
import { startLocalCluster } from "../../../testbed/local/harness";
import { freePorts } from "../../../testbed/local/ports";
import { isAlive } from "../../../testbed/local/processes";


test("freePorts returns distinct ports whose bus port is free too", async () => {
  const ports = await freePorts(8, { withBus: true });
  assert.equal(new Set(ports).size, 8);
  assert.ok(ports.every((p) => p >= 20000 && p + 10000 <= 65535));
});

test("restarts a killed node like a restart policy would, and stop() leaves nothing behind", async () => {
  const c = await startLocalCluster({ restartDelayMs: 100 });
  let pids: (number | undefined)[] = [];
  try {
    const before = c.nodes[0].pid();
    await c.kill(0);
    for (let k = 0; k < 100 && (c.nodes[0].pid() === before || !c.nodes[0].pid()); k++) await sleep(50);
    assert.notEqual(c.nodes[0].pid(), before, "a new process was started");
    await c.waitReady(0, 10_000);
    assert.equal(c.nodes[0].restarts, 1);
    // Same data dir: the node rejoins with its identity from nodes.conf.
    assert.match(c.cli(0, ["cluster", "info"]).stdout, /cluster_known_nodes:6/);

    await c.stopNode(1);
    await sleep(400);
    assert.ok(!isAlive(c.nodes[1].pid()), "stopNode does not restart");
    c.startNode(1);
    await c.waitReady(1);
    pids = c.nodes.map((n) => n.pid());
  } finally {
    await c.stop();
  }
  assert.ok(pids.every((p) => !isAlive(p)), "every redis-server is gone");
  assert.ok(!existsSync(c.dir), "temp dir removed");
});

test("restart budget is per time window: past it the node waits, then comes back (never given up for good)", { timeout: 90_000 }, async () => {
  const c = await startLocalCluster({ restartDelayMs: 50, restartBudget: { count: 2, windowMs: 5000 } });
  try {
    const restarted = async (before: number | undefined, ms: number) => {
      for (let k = 0; k < ms / 50 && (c.nodes[0].pid() === before || !isAlive(c.nodes[0].pid())); k++) await sleep(50);
      return c.nodes[0].pid() !== before && isAlive(c.nodes[0].pid());
    };
    for (let k = 0; k < 2; k++) {
      const before = c.nodes[0].pid();
      await c.kill(0);
      assert.ok(await restarted(before, 3000), `restart ${k + 1} within the budget is quick`);
      await c.waitReady(0);
    }
    const before = c.nodes[0].pid();
    const t0 = Date.now();
    await c.kill(0);
    assert.equal(await restarted(before, 1500), false, "over budget: not restarted at once");
    assert.ok(await restarted(before, 10_000), "restarted once the window moved on");
    assert.ok(Date.now() - t0 >= 2000, "waited for the window");
    assert.equal(c.nodes[0].restarts, 3);
  } finally {
    await c.stop();
  }
});
