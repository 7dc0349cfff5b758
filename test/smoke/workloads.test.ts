// The workloads check on a real local cluster: passes on a healthy one with exact totals, still passes where
// applications are unaffected (an open slot: ioredis follows ASK), and fails on a cluster with unassigned slots naming
// the command and the key of each workload. (The runner itself skips it when the slots check fails; here it runs directly.)
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { startLocalCluster, type LocalCluster } from "../../testbed/local/harness";
import { checkConnect } from "../../smoke/checks/connect";
import { checkWorkloads, WORKLOAD } from "../../smoke/checks/workloads";
import { SmokeContext } from "../../smoke/context";
import { CheckFailure, DEFAULT_OPTIONS } from "../../smoke/types";

describe("workloads check on a 3x0 cluster", () => {
  let c: LocalCluster;
  before(async () => {
    c = await startLocalCluster({ masters: 3, replicasPerMaster: 0, config: { smoke: { failover: "none" } } });
  });
  after(async () => {
    await c?.stop();
  });

  /** The check run as the runner would after connect: its result or its CheckFailure. */
  async function workloads(): Promise<{ details: string; measurements: Record<string, unknown> } | CheckFailure> {
    const ctx = new SmokeContext({ ...DEFAULT_OPTIONS, nodes: c.seeds, nodeTimeoutMs: 500 }, () => {});
    try {
      await checkConnect(ctx);
      await ctx.refreshTopology();
      return await checkWorkloads(ctx).catch((e: unknown) => {
        if (e instanceof CheckFailure) return e;
        throw e;
      });
    } finally {
      ctx.close();
    }
  }

  const ownerOf = (slot: number) =>
    c.nodes.findIndex((_, i) => {
      const me = c.cli(i, ["cluster", "nodes"]).stdout.split("\n").find((l) => l.includes("myself"));
      return !!me && me.split(" ").slice(8).some((r) => {
        const [a, b] = r.split("-").map(Number);
        return a <= slot && slot <= (b ?? a);
      });
    });

  it("healthy: exact counter totals, TTL expiry, exactly-once queue, hash tags in MULTI/EXEC, CROSSSLOT as expected", async () => {
    const r = await workloads();
    assert.ok(!(r instanceof CheckFailure), r instanceof CheckFailure ? r.problems.join("\n") : "");
    const W = WORKLOAD;
    assert.equal(r.measurements.counter_incr_total, 3 * W.countersPerMaster * W.counterClients * W.incrementsPerClient);
    assert.equal(r.measurements.cache_entries_expired, 3 * W.cachePerMaster);
    assert.equal(r.measurements.queue_items, W.queueItems);
    assert.equal(r.measurements.cross_slot_refused, true);
    assert.match(r.details, /refused with CROSSSLOT \(expected\)/);
    // Nothing left behind.
    for (let i = 0; i < c.nodes.length; i++) assert.equal(c.cli(i, ["dbsize"]).stdout.trim(), "0", `node ${i} keeps keys`);
  });

  it("an open slot (MIGRATING/IMPORTING left set) does not break the applications: passes", async () => {
    const owner = ownerOf(100);
    const dest = (owner + 1) % 3;
    const id = (i: number) => c.cli(i, ["cluster", "myid"]).stdout.trim();
    assert.equal(c.cli(owner, ["cluster", "setslot", "100", "migrating", id(dest)]).stdout.trim(), "OK");
    assert.equal(c.cli(dest, ["cluster", "setslot", "100", "importing", id(owner)]).stdout.trim(), "OK");
    try {
      const r = await workloads();
      assert.ok(!(r instanceof CheckFailure), r instanceof CheckFailure ? r.problems.join("\n") : "");
    } finally {
      c.cli(owner, ["cluster", "setslot", "100", "stable"]);
      c.cli(dest, ["cluster", "setslot", "100", "stable"]);
    }
  });

  it("unassigned slots (cluster_state:fail): every workload fails naming its command and key", async () => {
    const owner = ownerOf(100);
    c.cli(owner, ["cluster", "delslotsrange", "100", "199"]);
    for (let i = 0; i < c.nodes.length; i++) if (i !== owner) c.cli(i, ["cluster", "delslotsrange", "100", "199"]);
    const t0 = Date.now();
    const r = await workloads();
    assert.ok(r instanceof CheckFailure, `expected a failure, got ${JSON.stringify(r)}`);
    const text = r.problems.join("\n");
    // ioredis never gets ready on a cluster_state:fail cluster: each workload's first command times out, named.
    assert.match(r.problems[0], /^counters: INCR smoke:\S+:w:ctr:\d+ \(slot \d+, master 127\.0\.0\.1:\d+ \(\w{6}\)\) failed: ioredis: no answer within 5000 ms \(the cluster client is \w+, not ready/, text);
    assert.ok(r.problems.some((p) => /^cache: SET PX smoke:\S+:w:cache:\d+ \(slot \d+, master .+\) failed: /.test(p)), text);
    assert.ok(r.problems.some((p) => /^queue: LPUSH smoke:\S+:w:queue:0 \(slot \d+, master .+\) failed: /.test(p)), text);
    assert.ok(r.problems.some((p) => /^hash tags: [A-Z][A-Z /]+ smoke:\{\S+\}:a \(slot \d+/.test(p)), text);
    assert.equal(r.problems.length, 4, text);
    assert.ok(Date.now() - t0 < 40_000, `took ${Date.now() - t0} ms`);
  });
});
