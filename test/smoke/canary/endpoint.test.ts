// The canary addresses nodes the way they tell clients to (cluster-preferred-endpoint-type): with "hostname" by the
// name each announces (external access: <pod>.<domain>, which a certificate verified by hostname names), not by the
// IP that CLUSTER NODES also lists. Real local 3x0 whose nodes announce "localhost" at runtime.
import { after, before, it } from "node:test";
import assert from "node:assert/strict";
import Redis from "ioredis";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { Canary } from "../../../smoke/canary/canary";
import { sleep } from "../../../smoke/time";

let cluster: LocalCluster | undefined;
let canary: Canary | undefined;
const logs: string[] = [];

before(async () => {
  cluster = await startLocalCluster({ masters: 3, replicasPerMaster: 0, config: { smoke: { failover: "none" } } });
});

after(async () => {
  await canary?.stop();
  await cluster?.stop();
});

async function announce(settings: [string, string][]): Promise<void> {
  for (const seed of cluster!.seeds) {
    const [host, port] = seed.split(":");
    const r = new Redis({ host, port: Number(port), lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      for (const [k, v] of settings) await r.call("CONFIG", "SET", k, v);
    } finally {
      r.disconnect();
    }
  }
}

/** Waits (bounded) for the canary's log to show a topology whose masters are addressed by `host`. */
async function topologyBy(host: string, timeoutMs: number): Promise<string> {
  const t0 = Date.now();
  for (;;) {
    const line = logs.find((l) => /^topology/.test(l) && l.includes(`=${host}:`));
    if (line) return line;
    if (Date.now() - t0 > timeoutMs) assert.fail(`no topology by ${host} within ${timeoutMs} ms; canary log:\n${logs.slice(-10).join("\n")}`);
    await sleep(100);
  }
}

it("with preferred endpoint type hostname the canary connects by the announced names and its rounds succeed", async () => {
  await announce([["cluster-announce-hostname", "localhost"], ["cluster-preferred-endpoint-type", "hostname"]]);
  // Hostnames travel by gossip: wait (bounded) until every node lists every node's.
  const gossipT0 = Date.now();
  for (;;) {
    const views = await Promise.all(cluster!.seeds.map(async (seed) => {
      const r = new Redis({ host: seed.split(":")[0], port: Number(seed.split(":")[1]), lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        return String(await r.call("CLUSTER", "NODES"));
      } finally {
        r.disconnect();
      }
    }));
    if (views.every((v) => v.trim().split("\n").every((l) => l.split(" ")[1].endsWith(",localhost")))) break;
    if (Date.now() - gossipT0 > 10_000) assert.fail(`hostnames not gossiped within 10 s:\n${views.join("\n")}`);
    await sleep(200);
  }
  canary = new Canary({ seeds: cluster!.seeds, intervalMs: 200, timeoutMs: 1000, refreshMs: 500, log: (l) => logs.push(l) });
  canary.start();
  const line = await topologyBy("localhost", 10_000);
  assert.doesNotMatch(line, /=127\.0\.0\.1:/, line);
  // Rounds against the named nodes succeed (SLI requests: a set and a get per shard per round).
  const t0 = Date.now();
  let w = canary.view(60_000);
  while (w.requests < 24) {
    if (Date.now() - t0 > 10_000) assert.fail(`fewer than 24 SLI requests in 10 s: ${JSON.stringify(w)}\n${logs.join("\n")}`);
    await sleep(250);
    w = canary.view(60_000);
  }
  assert.equal(w.failed, 0, `${JSON.stringify(w)}\n${logs.join("\n")}`);
});
