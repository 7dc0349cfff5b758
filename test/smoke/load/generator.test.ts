// The load generator on a real local cluster: keys cover every slot and land on their owners, the open loop keeps its
// schedule while a master is frozen (latency from intended send times: no coordinated omission), histograms count
// every command, per-master INFO deltas see the load; the shape counted by the connections (redis-benchmark's: one
// write per request, nothing coalesced; batched: several requests per write) and seen by the servers; redis-benchmark's
// key space matches the keys redis-benchmark itself writes; RESP reply scanning across chunk boundaries.
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import calculateSlot = require("cluster-key-slot");
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { checkConnect } from "../../../smoke/checks/connect";
import { SmokeContext } from "../../../smoke/context";
import { RespConnection } from "../../../smoke/load/connection";
import { runLoad, type LoadTarget } from "../../../smoke/load/generator";
import { keysPerSlot, redisBenchmarkKeys, redisBenchmarkTag } from "../../../smoke/load/keys";
import { shapeLabel } from "../../../smoke/load/shape";
import { loadTargets, measuredPhase } from "../../../smoke/load/measure";
import { encodeAll, encodeCommand, ReplyScanner } from "../../../smoke/load/resp";
import { usageBetween, type UsageSnapshot } from "../../../smoke/load/usage";
import { DEFAULT_OPTIONS } from "../../../smoke/types";

describe("RESP scanning", () => {
  it("counts every reply type across chunk boundaries and keeps error text", () => {
    const seen: (string | undefined)[] = [];
    const s = new ReplyScanner((e) => seen.push(e));
    const wire = Buffer.from("+OK\r\n$3\r\nabc\r\n$-1\r\n:42\r\n-MOVED 1234 127.0.0.1:7002\r\n*2\r\n$1\r\na\r\n*1\r\n:1\r\n*-1\r\n*0\r\n$0\r\n\r\n");
    // Byte by byte: every header, value and CRLF split.
    for (let i = 0; i < wire.length; i++) s.push(wire.subarray(i, i + 1));
    assert.deepEqual(seen, [undefined, undefined, undefined, undefined, "MOVED 1234 127.0.0.1:7002", undefined, undefined, undefined, undefined]);
    assert.equal(encodeCommand(["SET", "k", "vé"]), "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nvé\r\n");
    const e = encodeAll([["GET", "a"], ["SET", "é", "v"]]);
    assert.deepEqual([...e.offsets], [0, 20, 48]);
    assert.equal(e.buf.subarray(e.offsets[1], e.offsets[2]).toString(), encodeCommand(["SET", "é", "v"]));
  });

  it("a reply split across reads survives the reused read buffer being overwritten", () => {
    const seen: (string | undefined)[] = [];
    const s = new ReplyScanner((e) => seen.push(e));
    const shared = Buffer.from("$3\r\nab");
    s.push(shared);
    shared.write("XXXXXXX"); // the connection's next read lands in the same buffer
    s.push(Buffer.from("c\r\n-ERR x\r\n"));
    assert.deepEqual(seen, [undefined, "ERR x"]);
  });
});

describe("shape labels and redis-benchmark's tags", () => {
  it("labels redis-benchmark's shape by its options and anything else as batched with its commands per write", () => {
    const base = { connections: 50, pipeline: 16, inFlightPerConnection: 1, maxInFlightPerConnection: 1, writes: 100, commands: 1600, commandsPerWrite: 16, redisBenchmarkShape: true };
    assert.equal(shapeLabel(base), "50 conns × 1 request × 16 cmds/write (redis-benchmark -c 50 -P 16)");
    assert.equal(shapeLabel({ ...base, connections: 6, pipeline: 1, inFlightPerConnection: 8.33, maxInFlightPerConnection: 9, commandsPerWrite: 8.26, redisBenchmarkShape: false }), "batched (≈8.3 per write): 6 conns × ≈8.3 requests of 1 in flight");
  });

  it("the tag of a slot is the shortest alphanumeric string hashing to it, first in ASCII order", () => {
    // Seen in redis-benchmark 7.0's keys on a 3-master cluster (first slots 0, 5461, 10923).
    assert.deepEqual([0, 5461, 10923].map(redisBenchmarkTag), ["06S", "8M", "63n"]);
    for (const slot of [1, 100, 16383]) assert.equal(calculateSlot(redisBenchmarkTag(slot)), slot);
    assert.deepEqual(redisBenchmarkKeys(5461, 2), ["key:{8M}}:000000000000", "key:{8M}}:000000000001"]);
  });
});

describe("usage window", () => {
  it("ends when the closing INFO requests are sent: their round trip is not charged to a short run", () => {
    const snap = (sentAt: number, at: number, calls: number): UsageSnapshot => ({ sentAt, at, nodes: new Map([["n:1", { calls, cpuSec: 0 }]]) });
    // 2000 commands in the 40 ms between the first snapshot's replies and the second's requests; those replies took 20 ms.
    const u = usageBetween(snap(0, 10, 100), snap(50, 70, 2100), new Map([["n:1", "master"]]), 0, { local: false });
    assert.equal(u.nodes[0].opsPerSec, 50_000);
  });
});

describe("load generator on a 3x0 cluster", () => {
  let c: LocalCluster;
  let ctx: SmokeContext;
  let targets: LoadTarget[];
  before(async () => {
    c = await startLocalCluster({ masters: 3, replicasPerMaster: 0, config: { smoke: { failover: "none" } } });
    ctx = new SmokeContext({ ...DEFAULT_OPTIONS, nodes: c.seeds }, () => {});
    await checkConnect(ctx);
    targets = await loadTargets(ctx);
  });
  after(async () => {
    ctx?.close();
    await c?.stop();
  });

  /** The keys on node i matching a pattern (SCAN). */
  const scanKeys = (i: number, pattern: string) => {
    const keys: string[] = [];
    let cursor = "0";
    for (let guard = 0; guard < 10_000; guard++) {
      const [next, ...page] = c.cli(i, ["scan", cursor, "match", pattern, "count", "1000"]).stdout.trim().split("\n");
      keys.push(...page.filter((k) => k.trim()));
      cursor = next.trim();
      if (cursor === "0") return keys;
    }
    throw new Error("scan did not finish");
  };
  const countKeys = (i: number, prefix: string) => scanKeys(i, `${prefix}:*`).length;

  it("one key per slot; a SET run writes every slot, each key on the master that owns it", async () => {
    const keys = keysPerSlot("t:spread");
    assert.equal(new Set(keys).size, 16384);
    keys.forEach((k, slot) => assert.equal(calculateSlot(k), slot));
    // Open loop: every lane gets the same number of requests, and a master's lanes split its slots evenly.
    const r = await runLoad({ targets, command: "set", pipeline: 4, connectionsPerNode: 2, concurrency: 1, rate: 40_000, ops: 16384 * 2, valueSize: 3, keyPrefix: "t:spread", ttlSeconds: 600 });
    assert.equal(r.errors, 0, r.firstError);
    assert.equal(r.ops, 16384 * 2);
    for (const t of targets) {
      const owned = t.slots.reduce((s, [a, b]) => s + b - a + 1, 0);
      const i = c.nodes.findIndex((n) => `${n.host}:${n.port}` === t.addr);
      assert.equal(countKeys(i, "t:spread"), owned, `${t.addr} owns ${owned} slots`);
      // Requests follow the slot share (±5%).
      assert.ok(Math.abs(r.perTarget[t.addr] / r.ops - owned / 16384) < 0.05, JSON.stringify(r.perTarget));
    }
  });

  it("histograms count every command, pipelined or not, with ordered percentiles; INFO sees the load on every master", async () => {
    for (const pipeline of [1, 16]) {
      const p = await measuredPhase(ctx, { command: "get", pipeline, connectionsPerNode: 2, concurrency: 20, ops: 20_000, valueSize: 3, keyPrefix: "t:spread", ttlSeconds: 0 });
      const r = p.result;
      assert.equal(r.errors, 0, r.firstError);
      assert.equal(r.okOps, 20_000);
      assert.equal(r.latency.count, 20_000);
      assert.ok(r.latency.p50Ms > 0 && r.latency.p50Ms <= r.latency.p99Ms && r.latency.p99Ms <= r.latency.p999Ms && r.latency.p999Ms <= r.latency.maxMs, JSON.stringify(r.latency));
      assert.ok(r.opsPerSec > 0);
      const masters = p.usage.nodes.filter((n) => n.role === "master");
      assert.equal(masters.length, 3);
      // Server side: every master executed its share (INFO commandstats deltas over the sending window).
      const served = masters.reduce((s, n) => s + n.opsPerSec, 0) * (r.ms / 1000);
      assert.ok(served >= 20_000 * 0.9 && served <= 20_000 * 1.2, `servers counted ${served} commands for 20000 sent`);
      for (const n of masters) assert.ok(n.opsPerSec > 0, n.addr);
      assert.match(p.usage.limit, /CPU|round trips/);
    }
  });

  it("a connection without coalescing writes every request on its own, even five in one tick; with it, one write", async () => {
    const ping = Buffer.from(encodeCommand(["PING"]));
    for (const coalesce of [false, true]) {
      const conn = await RespConnection.open(c.nodes[0].host, c.nodes[0].port, { coalesce });
      try {
        conn.resetCounters();
        await Promise.all(Array.from({ length: 5 }, () => new Promise<void>((resolve, reject) => conn.send(ping, 1, (errs, first) => (errs ? reject(new Error(first)) : resolve())))));
        assert.deepEqual(conn.counters, { writes: coalesce ? 1 : 5, commands: 5, requests: 5, inFlightSum: 15, maxInFlight: 5 }, `coalesce ${coalesce}`);
      } finally {
        conn.close();
      }
    }
  });

  it("connectionPerRequest is redis-benchmark's shape: a connection per request in flight, one write per request, nothing coalesced", async () => {
    const p = await measuredPhase(ctx, { command: "set", pipeline: 4, connectionsPerNode: 1, connectionPerRequest: true, concurrency: 12, ops: 4800, valueSize: 3, keyPrefix: "t:shape", ttlSeconds: 600 });
    const s = p.result.shape;
    assert.equal(p.result.errors, 0, p.result.firstError);
    assert.equal(s.connections, 12);
    assert.equal(s.maxInFlightPerConnection, 1);
    assert.equal(s.commands, 4800);
    assert.equal(s.writes, 1200, `${s.writes} socket writes for 1200 requests of 4`);
    assert.equal(s.commandsPerWrite, 4);
    assert.ok(s.redisBenchmarkShape);
    // The servers saw it too: one read per request (a few INFO calls of the usage window aside).
    assert.ok(p.usage.commandsPerRead! > 3.8 && p.usage.commandsPerRead! <= 4.05, `servers: ${p.usage.commandsPerRead} commands per read`);
  });

  it("the batched shape coalesces the requests of a tick into one write, and says so", async () => {
    const p = await measuredPhase(ctx, { command: "get", pipeline: 1, connectionsPerNode: 1, concurrency: 30, ops: 6000, valueSize: 3, keyPrefix: "t:shape", ttlSeconds: 0 });
    const s = p.result.shape;
    assert.equal(p.result.errors, 0, p.result.firstError);
    assert.equal(s.connections, 3);
    assert.ok(s.maxInFlightPerConnection > 1 && s.commandsPerWrite > 2, JSON.stringify(s));
    assert.equal(s.commands, 6000);
    assert.ok(!s.redisBenchmarkShape);
    assert.match(shapeLabel(s), /^batched \(≈[\d.]+ per write\): 3 conns/);
    assert.ok(p.usage.commandsPerRead! > 2, `servers: ${p.usage.commandsPerRead} commands per read`);
  });

  it("redis-benchmark's key space is the keys redis-benchmark --cluster writes itself", async () => {
    const count = (i: number) => scanKeys(i, "key:*");
    const n = c.nodes[0];
    // 3000 SETs over 3 x 20 keys: every key is written (each master's share, ~1000, covers its 20 many times over).
    const rb = spawnSync("redis-benchmark", ["--cluster", "-h", n.host, "-p", String(n.port), "-t", "set", "-n", "3000", "-c", "6", "-r", "20", "-q"], { encoding: "utf8", timeout: 60_000, env: c.cliEnv() });
    if (rb.error) throw new Error(`redis-benchmark could not run (${rb.error.message}): install redis-tools (npm run setup:system)`);
    assert.equal(rb.status, 0, rb.stderr || rb.stdout);
    for (const t of targets) {
      const i = c.nodes.findIndex((x) => `${x.host}:${x.port}` === t.addr);
      const ours = redisBenchmarkKeys(t.slots[0][0], 20);
      assert.deepEqual(count(i).sort(), ours, t.addr);
    }
    // The generator writing the same key space adds no key.
    const r = await runLoad({ targets, command: "set", pipeline: 1, connectionsPerNode: 1, connectionPerRequest: true, concurrency: 6, ops: 600, valueSize: 3, keyPrefix: "unused", ttlSeconds: 0, redisBenchmarkKeys: 20 });
    assert.equal(r.errors, 0, r.firstError);
    for (const t of targets) assert.equal(count(c.nodes.findIndex((x) => `${x.host}:${x.port}` === t.addr)).length, 20, t.addr);
  });

  for (const connectionPerRequest of [false, true]) it(`a cancelled run ends at once even while a master never answers; its unanswered commands count as errors${connectionPerRequest ? " (redis-benchmark's shape)" : ""}`, async () => {
    const frozen = c.nodes.findIndex((n) => `${n.host}:${n.port}` === targets[1].addr);
    const ac = new AbortController();
    const run = runLoad({ targets, command: "get", pipeline: 1, connectionsPerNode: 1, connectionPerRequest, concurrency: 30, ops: 1e9, valueSize: 3, keyPrefix: "t:spread", ttlSeconds: 0, signal: ac.signal });
    c.freeze(frozen);
    try {
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      ac.abort();
      const r = await run;
      assert.ok(Date.now() - t0 < 1000, `took ${Date.now() - t0} ms after the abort`);
      // At most one request per lane was in flight; at least the frozen master's are unanswered.
      assert.ok(r.errors > 0 && r.errors <= 30, `errors ${r.errors}`);
      assert.match(r.firstError ?? "", /^connection to 127\.0\.0\.1:\d+ closed by the load generator$/);
    } finally {
      c.thaw(frozen);
    }
  });

  it("a master killed during a run: its lanes end at once (none spins, or recurses, through the rest of the run), the others go on", async () => {
    const killed = c.nodes.findIndex((n) => `${n.host}:${n.port}` === targets[2].addr);
    // Batched (each send inline in the reply handler): before, a closed connection failed each send at once and its
    // lanes recursed through every remaining operation until the deadline, past the stack's depth.
    const run = runLoad({ targets, command: "set", pipeline: 1, connectionsPerNode: 1, concurrency: 30, durationMs: 1500, valueSize: 3, keyPrefix: "t:killed", ttlSeconds: 0 });
    await new Promise((r) => setTimeout(r, 300));
    try {
      await c.kill(killed);
      const r = await run;
      // At most the killed master's lanes' requests in flight fail; the other masters' lanes kept writing.
      assert.ok(r.errors > 0 && r.errors <= 30, `errors ${r.errors}: ${r.firstError}`);
      assert.ok(r.okOps > 100, `ok ${r.okOps}`);
    } finally {
      // The harness restarts a killed node by itself (restartOnExit); start it only if it has not.
      try {
        c.startNode(killed);
      } catch (e) {
        if (!/already running/.test((e as Error).message)) throw e;
      }
      await c.waitReady(killed);
      // Back in the cluster before the next case (bounded).
      for (let i = 0; i < 100 && !(await c.tryAsk(killed, "CLUSTER", "INFO")).includes("cluster_state:ok"); i++) await new Promise((r) => setTimeout(r, 200));
    }
  });

  it("open loop keeps its schedule while a master is frozen and charges the wait to the requests (from intended send time)", async () => {
    const frozen = c.nodes.findIndex((n) => `${n.host}:${n.port}` === targets[0].addr);
    const rate = 3000;
    const run = runLoad({ targets, command: "get", pipeline: 1, connectionsPerNode: 1, concurrency: 1, rate, durationMs: 1500, valueSize: 3, keyPrefix: "t:spread", ttlSeconds: 0 });
    await new Promise((r) => setTimeout(r, 400));
    c.freeze(frozen);
    await new Promise((r) => setTimeout(r, 500));
    c.thaw(frozen);
    const r = await run;
    assert.equal(r.errors, 0, r.firstError);
    assert.equal(r.mode, "open");
    // Sending never waited for replies: the whole schedule went out (a closed loop would have stalled its lanes).
    assert.ok(Math.abs(r.ops - rate * 1.5) <= rate * 0.05, `sent ${r.ops}, scheduled ${rate * 1.5}`);
    // ~1/3 of the requests during the 500 ms freeze waited up to 500 ms: > 3% of all samples above 150 ms.
    assert.ok(r.latency.p99Ms >= 150, `p99 ${r.latency.p99Ms} ms`);
    assert.ok(r.latency.maxMs >= 350, `max ${r.latency.maxMs} ms`);
  });
});
