// A master never holds moved keys without a synced replica (issue 25, item 5), observed on real redis-server processes,
// not taken from the step's log: during 3x1 -> 4x1 a sampler reads the new master's own CLUSTER NODES line and its INFO
// replication every few milliseconds, and from the moment it imports or owns a slot it must have an online replica that
// the cluster knows; during 4x1 -> 3x1 the drained master keeps that replica for as long as it owns a slot. A writer does
// SET + WAIT 1 on every key (a quarter of them move) throughout: every write acknowledged by a replica, none failed.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { LocalCluster } from "../../../../testbed/local/harness";
import { addNode, resize, topology } from "../../../../testbed/local/scaleCluster";
import { badFlags, isMyself, parseClusterNodes, parseInfo, parseReplicaLines } from "../../../../smoke/topology";
import { sleep } from "../../../../smoke/time";
import { writtenClusterFixture } from "../fixture";

const KEYS = 5000;
const fixture = writtenClusterFixture("scale-replicas-pw", KEYS);

interface Sample {
  at: number;
  /** Slots the watched master owns and imports, by its own line. */
  slots: number;
  importing: number;
  /** Its replicas in state=online (INFO replication on the master). */
  online: number;
  /** Replicas of it that node-0 knows without a failure flag (a forgotten replica is no failover target). */
  known: number;
}

/**
 * Samples node `i` until stopped (bounded: at most 20 000 samples), each failed read skipped. The reads of one sample
 * are not simultaneous: while the node gains slots its own line is read first, while it loses them last, so a slot
 * count is never paired with a replica read from before the slot arrived or after the last one left.
 */
function watch(cl: LocalCluster, i: number, direction: "gained" | "lost") {
  const samples: Sample[] = [];
  let stop = false;
  const done = (async () => {
    for (let n = 0; !stop && n < 20_000; n++) {
      try {
        const ownLine = async () => parseClusterNodes(await cl.ask(i, "cluster", "nodes")).find(isMyself)!;
        const early = direction === "gained" ? await ownLine() : undefined;
        const online = parseReplicaLines(parseInfo(await cl.ask(i, "info", "replication"))).filter((r) => r.state === "online").length;
        const view0 = parseClusterNodes(await cl.ask(0, "cluster", "nodes"));
        const mine = early ?? (await ownLine());
        const known = view0.filter((x) => x.masterId === mine.id && !badFlags(x).length).length;
        const slots = mine.slots.reduce((k, [a, b]) => k + b - a + 1, 0);
        samples.push({ at: Date.now(), slots, importing: mine.importing.length, online, known });
      } catch {
        /* a read cut by a node busy with the move: the next sample */
      }
      await sleep(5);
    }
  })();
  return {
    samples,
    async stop() {
      stop = true;
      await done;
    },
  };
}

const holding = (s: Sample) => s.slots > 0 || s.importing > 0;
const show = (s: Sample) => `${s.slots} slots, ${s.importing} importing, ${s.online} online replicas, ${s.known} known to node-0`;

test("3x1 -> 4x1 -> 3x1 under SET + WAIT 1: no slot on a master without a synced replica, every write acknowledged, none failed", { timeout: 240_000 }, async (t) => {
  const { c, writer } = await fixture.start();
  await addNode(c);
  await addNode(c);
  const out = watch(c, 6, "gained");
  const grown = await resize(c, 4, 1);
  await out.stop();
  assert.deepEqual(grown.map((r) => r.code), [0, 0], grown.map((r) => r.message).join("\n"));
  assert.equal(topology(c).masters, 4);
  const first = out.samples.findIndex(holding);
  assert.ok(first >= 0, `node-6 was never seen importing or owning a slot (${out.samples.length} samples)`);
  const bare = out.samples.filter((s) => holding(s) && (s.online < 1 || s.known < 1));
  assert.deepEqual(bare.slice(0, 3).map(show), [], `${bare.length} of ${out.samples.length} samples: node-6 held slots without a synced replica`);

  // Scale in: node-6 is drained, node-6 and node-7 forgotten; node-6 keeps node-7 until it owns nothing.
  const back = watch(c, 6, "lost");
  const shrunk = await resize(c, 3, 1);
  await back.stop();
  assert.deepEqual(shrunk.map((r) => r.code), [0, 0], shrunk.map((r) => r.message).join("\n"));
  assert.ok(back.samples.some((s) => s.slots > 0), `node-6 was never seen owning slots while drained (${back.samples.length} samples)`);
  const orphan = back.samples.filter((s) => s.slots > 0 && (s.online < 1 || s.known < 1));
  assert.deepEqual(orphan.slice(0, 3).map(show), [], `${orphan.length} of ${back.samples.length} samples: node-6 owned slots without a replica the cluster knows`);

  const stats = await writer.finish();
  const { lost, unreadable } = await writer.lost();
  const unacked = stats.attempts - stats.acked - stats.errors;
  t.diagnostic(`writer ${stats.acked}/${stats.attempts} acknowledged, ${unacked} unacknowledged, ${stats.errors} failed, ${stats.redirects} redirects retried, slowest ${stats.slowestMs} ms; samples ${out.samples.length} out, ${back.samples.length} in`);
  assert.ok(stats.acked > 100, `writer acknowledged only ${stats.acked} writes`);
  assert.equal(stats.errors, 0, `failed writes: ${stats.errorSamples.join(" | ")}`);
  assert.equal(unacked, 0, "writes whose WAIT 1 no replica acknowledged");
  assert.deepEqual(lost, []);
  assert.deepEqual(unreadable, []);
});
