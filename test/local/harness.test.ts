import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { startLocalCluster, sleep } from "../../local/harness";
import { freePorts } from "../../local/ports";
import { isAlive } from "../../local/processes";


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
