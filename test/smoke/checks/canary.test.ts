// The smoke step's canary check against a real canary on a real local 3x1 cluster: it reports what the canary counted
// during the run (a manual failover inside the run shows as a topology change), fails when the canary found
// acknowledged writes lost, and says "n/a" (never "passed") when no canary answers or an older one has no /view.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { Canary } from "../../../smoke/canary/canary";
import { serveCanary, type CanaryServer } from "../../../smoke/canary/server";
import { runSmoke } from "../../../smoke/run";
import { sleep } from "../../../smoke/time";
import { DEFAULT_OPTIONS, type CheckResult, type SmokeOptions } from "../../../smoke/types";
import { freePorts } from "../../../testbed/local/ports";

const INTERVAL_MS = 200;
let cluster: LocalCluster | undefined;
let canary: Canary | undefined;
let server: CanaryServer | undefined;
const logs: string[] = [];

function options(o: Partial<SmokeOptions> = {}): SmokeOptions {
  return {
    ...DEFAULT_OPTIONS,
    nodes: cluster!.seeds,
    password: cluster!.password,
    expectMasters: 3,
    expectReplicas: 1,
    keys: 200,
    timeoutMs: 60_000,
    workloads: false,
    bench: { ...DEFAULT_OPTIONS.bench, ops: 0 },
    canaryUrl: `http://127.0.0.1:${server!.port}`,
    ...o,
  };
}

const canaryCheck = (checks: CheckResult[]) => {
  const c = checks.find((x) => x.name === "canary");
  assert.ok(c, `a canary check in ${checks.map((x) => x.name).join(",")}`);
  return c;
};

before(async () => {
  cluster = await startLocalCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 2000 });
  canary = new Canary({ seeds: cluster.seeds, intervalMs: INTERVAL_MS, timeoutMs: 1000, refreshMs: 1000, verifyAfterMs: 1000, log: (l) => logs.push(l) });
  server = await serveCanary(canary, { host: "127.0.0.1", port: 0 });
  canary.start();
  // A few rounds on every shard before the first smoke run.
  for (let i = 0; i < 100 && (canary.rounds < 5 || canary.shards.length < 3); i++) await sleep(100);
  assert.ok(canary.rounds >= 5, "the canary completes rounds");
});

after(async () => {
  await Promise.allSettled([canary?.stop(), server?.close()]);
  await cluster?.stop();
});

describe("smoke canary check", () => {
  it("reports the canary's counts of the run (a manual failover shows as a topology change) and of the minutes before it", async () => {
    const r = await runSmoke(options({ failover: "manual" }));
    const c = canaryCheck(r.checks);
    assert.equal(r.ok, true, JSON.stringify(r.checks.filter((x) => !x.ok)));
    assert.equal(c.status, "passed", c.details);
    const m = c.measurements;
    assert.equal(m.canary_answered, true);
    assert.equal(m.canary_instance, canary!.instance);
    // Every round is 2 SLI requests (set, get) per shard: the run's window holds about runMs / interval rounds of them.
    const runMs = Number(m.run_ms);
    assert.ok(runMs > 1000 && runMs <= r.duration_ms + 1000, `run window ${runMs} ms, run ${r.duration_ms} ms`);
    const expected = (runMs / INTERVAL_MS) * 6;
    assert.ok(Number(m.run_requests) > 0.5 * expected && Number(m.run_requests) < 1.5 * expected, `${m.run_requests} requests, about ${expected} expected`);
    assert.ok(Number(m.run_topology_changes) >= 1, `the failover inside the run is a topology change the canary saw: ${c.details}`);
    assert.ok(Number(m.lookback_requests) >= Number(m.run_requests), "the look-back window holds the run");
    assert.equal(m.lookback_acked_writes_lost, 0);
    assert.ok(Number(m.lookback_acked_writes_verified) > 0, "acknowledged writes were re-read");
    assert.match(c.details, /this run [\d.]+ s: \d+ requests, \d+ failed .*availability burn .*0 acknowledged writes lost of \d+ re-read, [1-9]\d* topology changes/);
    assert.match(c.details, /with the minutes before it 10\.0 min|with the minutes before it \d+(\.\d+)? s \(only/);
  });

  it("fails when the canary found acknowledged writes lost, naming them and the runbook", async () => {
    const sh = canary!.shards[2];
    const i = cluster!.nodes.findIndex((n) => `${n.host}:${n.port}` === sh.master);
    const lostBefore = canary!.view(3_600_000).lost;
    const keys = (await cluster!.ask(i, "keys", `canary:{${sh.tag}}:*`)).split("\n").filter(Boolean);
    assert.ok(keys.length > 0);
    await cluster!.ask(i, "del", ...keys);
    for (let k = 0; k < 100 && canary!.view(3_600_000).lost === lostBefore; k++) await sleep(100);
    assert.ok(canary!.view(3_600_000).lost > lostBefore, "the canary counted the deleted writes as lost");
    const r = await runSmoke(options({ failover: "none" }));
    const c = canaryCheck(r.checks);
    assert.equal(c.status, "failed", c.details);
    assert.equal(r.ok, false);
    assert.match(c.problems[0], /the canary found \d+ acknowledged writes lost .*RedisCanaryAckedWriteLost/);
  });

  it("no canary answering, or an older canary without /view: n/a with the reason, never passed", async () => {
    const [free] = await freePorts(1);
    const down = await runSmoke(options({ failover: "none", canaryUrl: `http://127.0.0.1:${free}` }));
    const c = canaryCheck(down.checks);
    assert.equal(c.status, "not-applicable", c.details);
    assert.match(c.details, /no canary view at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\): not checked; on a first deploy/);
    // An older canary: /metrics but no /view.
    const old: Server = createServer((req, res) => res.writeHead(req.url === "/metrics" ? 200 : 404).end());
    await new Promise<void>((res) => old.listen(0, "127.0.0.1", res));
    try {
      const r = await runSmoke(options({ failover: "none", canaryUrl: `http://127.0.0.1:${(old.address() as AddressInfo).port}` }));
      const o = canaryCheck(r.checks);
      assert.equal(o.status, "not-applicable", o.details);
      assert.match(o.details, /HTTP 404 for \/view \(a canary without \/view/);
    } finally {
      await new Promise((res) => old.close(res));
    }
    const none = await runSmoke(options({ failover: "none", canaryUrl: undefined }));
    assert.equal(canaryCheck(none.checks).status, "not-applicable");
  });
});
