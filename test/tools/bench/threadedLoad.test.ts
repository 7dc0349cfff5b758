// The generator on several threads (the partner of redis-benchmark's default row): masters, connections and commands
// split over the threads; on a real 3x0 cluster every command sent, timed and counted once, in redis-benchmark's shape.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { checkConnect } from "../../../smoke/checks/connect";
import { SmokeContext } from "../../../smoke/context";
import type { LoadTarget } from "../../../smoke/load/generator";
import { DEFAULT_OPTIONS } from "../../../smoke/types";
import { addShapes, splitByThreads, threadedPhase } from "../../../tools/bench/threadedLoad";

describe("splitting over threads", () => {
  const t = (port: number, a: number, b: number): LoadTarget => ({ addr: `h:${port}`, host: "h", port, slots: [[a, b]] });
  const targets = [t(1, 0, 5460), t(2, 5461, 10922), t(3, 10923, 16383)];

  it("one master per thread, connections by slot share, every command given out once", () => {
    const g = splitByThreads(targets, 3, 50, 200_001);
    assert.deepEqual(g.map((x) => x.targets.map((y) => y.port)), [[1], [2], [3]]);
    assert.equal(g.reduce((s, x) => s + x.concurrency, 0), 50);
    assert.ok(g.every((x) => x.concurrency >= 16 && x.concurrency <= 17), JSON.stringify(g.map((x) => x.concurrency)));
    assert.equal(g.reduce((s, x) => s + x.ops, 0), 200_001);
    // Fewer threads than masters: a thread takes several; more: no thread without a master.
    assert.deepEqual(splitByThreads(targets, 2, 50, 100).map((x) => x.targets.map((y) => y.port)), [[1, 3], [2]]);
    assert.equal(splitByThreads(targets, 8, 50, 100).length, 3);
  });

  it("shapes add up: connections and writes summed, requests in flight weighted by commands", () => {
    const s = { connections: 17, pipeline: 1, inFlightPerConnection: 1, maxInFlightPerConnection: 1, writes: 100, commands: 100, commandsPerWrite: 1, redisBenchmarkShape: true };
    const sum = addShapes([s, { ...s, connections: 16, writes: 50, commands: 150, commandsPerWrite: 3, inFlightPerConnection: 3, maxInFlightPerConnection: 3, redisBenchmarkShape: false }]);
    assert.deepEqual(sum, { connections: 33, pipeline: 1, inFlightPerConnection: 2.2, maxInFlightPerConnection: 3, writes: 150, commands: 250, commandsPerWrite: 1.67, redisBenchmarkShape: false });
  });
});

describe("the generator on three threads, 3x0 cluster", () => {
  let c: LocalCluster;
  let ctx: SmokeContext;
  before(async () => {
    c = await startLocalCluster({ masters: 3, replicasPerMaster: 0, config: { smoke: { failover: "none" } } });
    ctx = new SmokeContext({ ...DEFAULT_OPTIONS, nodes: c.seeds }, () => {});
    await checkConnect(ctx);
  });
  after(async () => {
    ctx?.close();
    await c?.stop();
  });

  it("every command sent once and timed once, in redis-benchmark's shape, each master by its own thread", async () => {
    const p = await threadedPhase(ctx, { command: "set", pipeline: 4, concurrency: 12, connectionsPerNode: 1, ops: 6000, valueSize: 3, keyPrefix: "t:threads", ttlSeconds: 600, redisBenchmarkKeys: 50 }, 3);
    const r = p.result;
    assert.equal(r.errors, 0, r.firstError);
    assert.equal(r.ops, 6000);
    assert.equal(r.okOps, 6000);
    assert.equal(r.latency.count, 6000);
    assert.equal(r.connections, 12);
    assert.equal(r.shape.writes, 1500, `${r.shape.writes} writes for 1500 requests of 4`);
    assert.ok(r.shape.redisBenchmarkShape, JSON.stringify(r.shape));
    assert.equal(Object.keys(r.perTarget).length, 3);
    for (const [addr, n] of Object.entries(r.perTarget)) assert.ok(n >= 1500 && n <= 2500, `${addr}: ${n}`);
    // The servers saw the same: about 6000 SETs over the window, 4 per read.
    const served = p.usage.nodes.reduce((s, n) => s + n.opsPerSec, 0) * (r.ms / 1000);
    assert.ok(served >= 6000 * 0.9 && served <= 6000 * 1.2, `servers counted ${served}`);
    assert.ok(p.usage.commandsPerRead! > 3.8 && p.usage.commandsPerRead! <= 4.05, `servers: ${p.usage.commandsPerRead} commands per read`);
  });

  it("a worker's failure fails the phase with the worker's reason", async () => {
    await assert.rejects(
      threadedPhase(ctx, { command: "get", pipeline: 0, concurrency: 6, connectionsPerNode: 1, ops: 60, valueSize: 3, keyPrefix: "t:threads", ttlSeconds: 0 }, 3),
      /load options: pipeline must be an integer >= 1, got 0/,
    );
  });
});
