// The canary against a real local 3x1 cluster, one canary for the whole file (as in production it outlives every
// event): healthy, a frozen master replaced by its replica, a restart of every node, and a deleted acknowledged write
// (the lost-write count must be able to fire). Read through /metrics, as Prometheus does.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { waitHealthy } from "../../helpers/restartedCluster";
import { Canary } from "../../../smoke/canary/canary";
import { serveCanary, type CanaryServer } from "../../../smoke/canary/server";
import { sleep } from "../../../smoke/time";

const ROOT = resolve(__dirname, "../../..");
const CLI = ["--import", "tsx", join(ROOT, "smoke/canary/cli.ts")];
const INTERVAL_MS = 250;
const NODE_TIMEOUT_MS = 2000;
const SHARDS = ["0", "1", "2"];

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

class Scrape {
  constructor(readonly samples: Sample[]) {}
  /** Sum of the series of `name` whose labels include `match`. */
  sum(name: string, match: Record<string, string> = {}): number {
    return this.samples.filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
  }
  requests(match: Record<string, string>): number {
    return this.sum("redis_canary_requests_total", match);
  }
  failed(match: Record<string, string> = {}): number {
    return this.requests({ ...match, result: "error" }) + this.requests({ ...match, result: "timeout" });
  }
  lost(): number {
    return this.sum("redis_canary_acked_writes_lost_total");
  }
  /** Re-read so far, intact or lost. */
  settled(shard: string): number {
    return this.sum("redis_canary_acked_writes_verified_total", { shard }) + this.sum("redis_canary_acked_writes_lost_total", { shard });
  }
  /** Writes acknowledged by a replica so far. */
  acked(shard: string): number {
    return this.requests({ shard, op: "set", result: "ok" }) - this.sum("redis_canary_unreplicated_writes_total", { shard });
  }
}

let cluster: LocalCluster | undefined;
let canary: Canary | undefined;
let server: CanaryServer | undefined;
const logs: string[] = [];

async function scrape(port = server!.port): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
  assert.equal(res.status, 200);
  return new Scrape(parseMetrics(await res.text()));
}

async function healthz(): Promise<number> {
  return (await fetch(`http://127.0.0.1:${server!.port}/healthz`, { signal: AbortSignal.timeout(2000) })).status;
}

/** Polls the metrics until `done` holds (bounded); returns the last scrape, or fails with `what` and it. */
async function until(what: string, timeoutMs: number, done: (s: Scrape) => boolean): Promise<Scrape> {
  const t0 = Date.now();
  let s = await scrape();
  for (let i = 0; i < 1000 && !done(s); i++) {
    if (Date.now() - t0 > timeoutMs) assert.fail(`${what}: not within ${timeoutMs} ms; canary log:\n${logs.slice(-15).join("\n")}`);
    await sleep(INTERVAL_MS);
    s = await scrape();
  }
  return s;
}

/** Every shard served ok writes, reads and replica reads since `since`, each at least `n` more. */
const okOnAllShards = (since: Scrape, n: number) => (s: Scrape) =>
  SHARDS.every((shard) => ["set", "get", "replica_read"].every((op) => s.requests({ shard, op, result: "ok" }) - since.requests({ shard, op, result: "ok" }) >= n));

/** Node index of an announced address (all nodes on 127.0.0.1 here). */
const nodeAt = (c: LocalCluster, addr: string) => c.nodes.findIndex((n) => `${n.host}:${n.port}` === addr);

before(async () => {
  cluster = await startLocalCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
  canary = new Canary({
    seeds: cluster.seeds,
    intervalMs: INTERVAL_MS,
    timeoutMs: 1000,
    refreshMs: 1000,
    verifyAfterMs: 2000,
    log: (l) => logs.push(`${new Date().toISOString()} ${l}`),
  });
  server = await serveCanary(canary, { host: "127.0.0.1", port: 0 });
  canary.start();
});

after(async () => {
  await Promise.allSettled([canary?.stop(), server?.close()]);
  await cluster?.stop();
  // The canary's own log, for reading a run: CANARY_TEST_LOG=<file>.
  if (process.env.CANARY_TEST_LOG) writeFileSync(process.env.CANARY_TEST_LOG, logs.join("\n") + "\n");
});

describe("canary on a live 3x1 cluster", () => {
  it("healthy: ok requests on 3 shards, no failure, nothing lost, writes re-read, contract buckets, /healthz 200", async () => {
    const zero = await scrape();
    const s = await until("ok requests and re-reads on every shard", 15_000, (x) => okOnAllShards(zero, 4)(x) && SHARDS.every((shard) => x.sum("redis_canary_acked_writes_verified_total", { shard }) >= 1));
    assert.equal(s.failed(), 0, logs.join("\n"));
    assert.equal(s.lost(), 0);
    assert.equal(s.sum("redis_canary_unreplicated_writes_total"), 0);
    assert.equal(s.sum("redis_canary_shards"), 3);
    assert.equal(s.sum("redis_canary_topology_changes_total"), 0);
    const les = s.samples.filter((x) => x.name === "redis_canary_request_duration_seconds_bucket" && x.labels.shard === "0" && x.labels.op === "set").map((x) => x.labels.le);
    // The contract's buckets (the SLO rules read bucket{le=threshold}).
    assert.deepEqual(les, ["0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "+Inf"]);
    for (const shard of SHARDS) {
      const lag = s.sum("redis_canary_replica_lag_seconds", { shard });
      assert.ok(lag > 0 && lag < 1, `replica lag of shard ${shard}: ${lag} s`);
    }
    assert.equal(await healthz(), 200);
    // Shard labels follow the masters' lowest slots, and each shard's keys live on its master.
    const c = cluster!;
    for (const sh of canary!.shards) {
      const i = nodeAt(c, sh.master);
      assert.ok(i >= 0, `shard ${sh.label}: master ${sh.master} is a node`);
      assert.match(await c.ask(i, "role"), /^master/);
      assert.ok(Number(await c.ask(i, "dbsize")) >= 1, `shard ${sh.label}: its master holds the canary's keys`);
    }
    assert.deepEqual(canary!.shards.map((x) => x.ranges[0][0]), [...canary!.shards.map((x) => x.ranges[0][0])].sort((a, b) => a - b));
  });

  it("a frozen master is replaced: failures bounded in time, topology change counted, 0 acknowledged writes lost", async () => {
    const c = cluster!;
    const victim = canary!.shards[0].master;
    const i = nodeAt(c, victim);
    const before = await scrape();
    const t0 = Date.now();
    c.freeze(i);
    let thawed = false;
    try {
      // Failures start within a round or two, and end once the replica is promoted and the canary re-read the topology.
      const moved = await until("shard 0 on a new master and ok there", 30_000, (s) => canary!.shards[0]?.master !== victim && s.failed({ shard: "0" }) > before.failed({ shard: "0" }) && s.requests({ shard: "0", op: "set", result: "ok" }) >= before.requests({ shard: "0", op: "set", result: "ok" }) + 4);
      const recoveredMs = Date.now() - t0;
      c.thaw(i);
      thawed = true;
      // The promotion takes node timeout + FAIL propagation + election; the canary adds at most a refresh and a round.
      assert.ok(recoveredMs < 4 * NODE_TIMEOUT_MS + 5000, `shard 0 ok again after ${recoveredMs} ms`);
      assert.ok(moved.sum("redis_canary_topology_changes_total") >= 1);
      assert.ok(logs.some((l) => /topology changed: 0=/.test(l)), "the topology change is logged");
      // Failures are bounded: at most every request of every shard during the outage, none after it.
      const failed = moved.failed() - before.failed();
      assert.ok(failed <= Math.ceil(recoveredMs / INTERVAL_MS) * 3 * 3, `${failed} failed requests`);
      // The old master rejoins as a replica; until it has synced, a replica read there may wait in vain.
      await waitHealthy(c, 20_000);
      const settledStart = await scrape();
      const s = await until("every write acknowledged before the freeze re-read, and requests ok on every shard", 20_000, (x) => okOnAllShards(settledStart, 4)(x) && x.settled("0") >= before.acked("0"));
      assert.equal(s.failed() - settledStart.failed(), 0, `failures after the recovery:\n${logs.slice(-10).join("\n")}`);
      assert.equal(s.lost(), 0, logs.filter((l) => l.includes("lost")).join("\n"));
      assert.equal(await healthz(), 200);
    } finally {
      if (!thawed) c.thaw(i);
    }
  });

  it("a restart of every node: the same canary reports healthy again, nothing acknowledged lost", async () => {
    const c = cluster!;
    const before = await scrape();
    await Promise.all(c.nodes.map((_, i) => c.stopNode(i)));
    const down = await until("failures while every node is down", 10_000, (s) => SHARDS.every((shard) => s.failed({ shard }) > before.failed({ shard })));
    assert.equal(await healthz(), 200, "the canary itself stays alive while Redis is down");
    for (let i = 0; i < c.nodes.length; i++) c.startNode(i);
    await waitHealthy(c, 30_000);
    const s = await until("ok requests on every shard after the restart, and every write acknowledged before it re-read", 30_000, (x) => okOnAllShards(down, 4)(x) && SHARDS.every((shard) => x.settled(shard) >= before.acked(shard)));
    assert.equal(s.lost(), 0, logs.filter((l) => l.includes("lost")).join("\n"));
    assert.equal(s.sum("redis_canary_shards"), 3);
    assert.equal(await healthz(), 200);
    assert.ok(logs.some((l) => /connection to \S+ lost/.test(l)) && logs.some((l) => /connection to \S+ back/.test(l)), "connection loss and return are logged");
  });

  it("an acknowledged write deleted behind the canary's back is counted as lost, with its key logged", async () => {
    const c = cluster!;
    const sh = canary!.shards[1];
    const i = nodeAt(c, sh.master);
    const before = await scrape();
    const keys = (await c.ask(i, "keys", `canary:{${sh.tag}}:*`)).split("\n").filter(Boolean);
    assert.ok(keys.length > 0, "the canary's keys are on shard 1's master");
    await c.ask(i, "del", ...keys);
    const s = await until("the deleted writes counted as lost", 10_000, (x) => x.sum("redis_canary_acked_writes_lost_total", { shard: "1" }) > before.lost());
    assert.equal(s.sum("redis_canary_acked_writes_lost_total", { shard: "0" }) + s.sum("redis_canary_acked_writes_lost_total", { shard: "2" }), 0);
    assert.ok(logs.some((l) => l.includes(`lost acknowledged write: shard 1`) && keys.some((k) => l.includes(k))), "the lost key is named in the log");
  });

  it("CLI: serves /metrics of every shard until SIGTERM, then exits 0; an unset --password-env is a usage error", async () => {
    const unset = spawnSync(process.execPath, [...CLI, "--nodes", cluster!.seeds[0], "--password-env", "CANARY_TEST_UNSET_PASSWORD"], { encoding: "utf8", timeout: 30_000, env: { ...process.env, CANARY_TEST_UNSET_PASSWORD: "" } });
    assert.equal(unset.status, 2, unset.stderr);
    assert.match(unset.stderr, /CANARY_TEST_UNSET_PASSWORD \(--password-env\) is not set/);
    const child = spawn(process.execPath, [...CLI, "--nodes", cluster!.seeds.join(","), "--host", "127.0.0.1", "--port", "0", "--interval-ms", String(INTERVAL_MS)], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const exited = once(child, "exit");
    try {
      let port = 0;
      for (let i = 0; i < 200 && !port; i++) {
        port = Number(/metrics on http:\/\/127\.0\.0\.1:(\d+)\/metrics/.exec(out)?.[1] ?? 0);
        if (!port) await sleep(100);
      }
      assert.ok(port, `the CLI printed its metrics address:\n${out}`);
      const t0 = Date.now();
      let s = await scrape(port);
      for (let i = 0; i < 100 && !SHARDS.every((shard) => s.requests({ shard, op: "set", result: "ok" }) >= 2); i++) {
        assert.ok(Date.now() - t0 < 15_000, `no ok writes on every shard from the CLI:\n${out}`);
        await sleep(INTERVAL_MS);
        s = await scrape(port);
      }
      assert.equal(s.failed(), 0, out);
      assert.ok(s.sum("process_resident_memory_bytes") > 0, "default process metrics");
      child.kill("SIGTERM");
      const [code] = await Promise.race([exited, sleep(10_000).then(() => ["no exit within 10 s"])]);
      assert.equal(code, 0, out);
      assert.match(out, /topology: 0=/);
      assert.match(out, /SIGTERM: stopping/);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    }
  });
});
