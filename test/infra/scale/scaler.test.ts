// The scale step on real redis-server processes (local harness), SHORT variant (the full one: `npm run scale:full`):
// 3x1 -> 4x1 -> 3x1 with 5 000 keys while a writer acknowledges every write with WAIT; the 3 -> 4 step is run as the CLI,
// SIGKILLed mid-migration and run again; a request on an unhealthy cluster is refused with nothing changed.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { LocalCluster } from "../../../testbed/local/harness";
import { addNode, removeLastNode, resize, scale, spawnScaleCli, topology } from "../../../testbed/local/scaleCluster";
import { writtenClusterFixture } from "./fixture";

const KEYS = 5000;
const fixture = writtenClusterFixture("scale-test-pw", KEYS);
let c: LocalCluster | undefined;

/** CLUSTER NODES without the volatile columns (ping/pong, epochs, link state), as node i sees it. */
function view(cl: LocalCluster, i: number): string[] {
  return cl.cli(i, ["cluster", "nodes"]).stdout.trim().split("\n")
    .map((l) => l.split(" ")).map((f) => [f[0], f[1], f[2].replace("myself,", ""), f[3], ...f.slice(8)].join(" ")).sort();
}

function assertBalanced(cl: LocalCluster, masters: number, replicas: number) {
  const t = topology(cl);
  assert.equal(t.masters, masters, JSON.stringify(t));
  assert.deepEqual(t.replicas, new Array(masters).fill(replicas), JSON.stringify(t));
  assert.equal(t.openSlots, 0);
  assert.ok(t.maxDeviationPct < 10, `slot shares ${t.shares}`);
  assert.ok(t.knownNodes.every((k) => k === masters * (1 + replicas)), `known nodes ${t.knownNodes}`);
}

test("3x1 -> 4x1 (killed mid-migration, re-run) -> 3x1 under a WAIT writer: every key readable, shares fair, 0 acknowledged writes lost", { timeout: 180_000 }, async (t) => {
  const started = await fixture.start();
  c = started.c;
  const { writer } = started;

  // Scale out: the nodes first, then the step — as the CLI, throttled so it is still moving slots when killed.
  await addNode(c);
  await addNode(c);
  const cli = spawnScaleCli(c, 4, 1, ["--slot-group", "8", "--pause-ms", "5"]);
  let err = "";
  cli.stderr!.on("data", (d) => (err += d));
  const killedAfter = await new Promise<number>((resolve, reject) => {
    const t0 = Date.now();
    const timer = setInterval(() => {
      // Killed once it reports slots moved: slots are open (importing/migrating) on both sides at that moment.
      if (/progress: [1-9]\d*\//.test(err)) {
        clearInterval(timer);
        process.kill(-cli.pid!, "SIGKILL");
        resolve(Date.now() - t0);
      } else if (Date.now() - t0 > 60_000 || cli.exitCode !== null) {
        clearInterval(timer);
        reject(new Error(`the scale CLI never reported progress (exit ${cli.exitCode}):\n${err}`));
      }
    }, 20);
  });
  await new Promise((r) => cli.once("close", r));
  const mid = topology(c);
  assert.ok(mid.shares.some((s) => s === 0) || mid.shares.some((s) => s > 0 && s < 4096), `killed after ${killedAfter} ms, before any slot moved: ${mid.shares}`);
  assert.match(err, /CLUSTER MEET node-6/);

  const t0 = Date.now();
  const rerun = await scale(c, 4, 1);
  assert.equal(rerun.code, 0, rerun.message);
  assert.ok(rerun.slotsMoved > 0 && rerun.slotsMoved < 4096, `re-run moved ${rerun.slotsMoved} slots (the killed run had moved some)`);
  assertBalanced(c, 4, 1);
  const outMs = Date.now() - t0;

  // Scale in: the step first (slots off node-6, node-6/7 forgotten everywhere), then the processes go.
  const t1 = Date.now();
  const shrink = await resize(c, 3, 1);
  assert.deepEqual(shrink.map((r) => r.code), [0, 0], shrink.map((r) => r.message).join("\n"));
  assert.ok(shrink[0].slotsMoved >= 4096 - 8, `moved ${shrink[0].slotsMoved}`);
  assert.equal(c.nodes.length, 6);
  assertBalanced(c, 3, 1);
  const inMs = Date.now() - t1;

  const stats = await writer.finish();
  const { lost, unreadable, checked } = await writer.lost();
  assert.equal(checked, KEYS);
  assert.deepEqual(unreadable, [], "every key readable");
  assert.deepEqual(lost, [], "no WAIT-acknowledged write lost");
  assert.ok(stats.acked > 100, `writer acknowledged ${stats.acked} of ${stats.attempts}`);
  // Measured, not asserted beyond sanity: the writer's error window while slots moved.
  t.diagnostic(`out re-run ${outMs} ms, in ${inMs} ms; writer ${stats.acked}/${stats.attempts} acked, ${stats.errors} errors (${stats.redirects} redirected writes retried), longest error run ${stats.longestErrorWindowMs} ms; ${stats.errorSamples.join(" | ")}`);
});

test("a scale request on an unhealthy cluster is refused and changes nothing", { timeout: 120_000 }, async () => {
  assert.ok(c, "needs the cluster of the first test");
  const cl = c!;
  await addNode(cl);
  await addNode(cl);
  const before = cl.nodes.slice(0, 6).map((_, i) => view(cl, i));
  // A replica frozen: it stays connected but answers nothing (a hung node).
  cl.freeze(5);
  try {
    const r = await scale(cl, 4, 1, { settleMs: 1000 });
    assert.equal(r.code, 2, r.message);
    assert.match(r.message, /not healthy, nothing was changed/);
    assert.match(r.message, /does not answer/);
  } finally {
    cl.thaw(5);
  }
  // Nothing changed: same ids, roles and slots everywhere; the new nodes still know only themselves.
  for (let i = 0; i < 5; i++) assert.deepEqual(view(cl, i), before[i], `node-${i}`);
  for (const i of [6, 7]) assert.match(cl.cli(i, ["cluster", "info"]).stdout, /cluster_known_nodes:1\r?\n/);
  assert.equal(topology(cl).openSlots, 0);
  await removeLastNode(cl);
  await removeLastNode(cl);
});
