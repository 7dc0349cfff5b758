// Helpers for the full-restart tests: stable pod names resolved from a hosts-format file (the stand-in for cluster DNS),
// a bounded "healthy" wait that looks at every node's own view, and a short-lived ioredis Cluster client.
import { writeFileSync } from "node:fs";
import { Cluster } from "ioredis";
import { sleep } from "../../smoke/time";
import type { LocalCluster } from "../../testbed/local/harness";

/** What cluster DNS would answer in a pod: <pod>.<headless service>.<namespace>.svc.cluster.local */
export const dnsName = (i: number) => `node-${i}.local-headless.redis.svc.cluster.local`;

export function writeHosts(file: string, entries: [number, string][]) {
  writeFileSync(file, ["# test stand-in for cluster DNS", ...entries.map(([i, a]) => `${a} ${dnsName(i)}`)].join("\n") + "\n");
}

/**
 * Healthy = every node reports cluster_state:ok AND lists all nodes at their current addresses, linked ("connected")
 * and without fail/noaddr/handshake flags. cluster_state alone is not enough: right after a restart a node still says ok
 * while every link is down, until cluster-node-timeout marks its peers failing. Bounded; returns the ms waited.
 */
export async function waitHealthy(cluster: LocalCluster, timeoutMs: number, pollMs = 100): Promise<number> {
  const t0 = Date.now();
  const expected = cluster.nodes.map((n) => `${n.host}:${n.port}`).sort().join(" ");
  let last = "";
  for (let attempt = 0; attempt < 2000 && Date.now() - t0 < timeoutMs; attempt++) {
    // Kept connections (ask), not a redis-cli per call: this loop would otherwise use a core by itself here.
    const views = await Promise.all(cluster.nodes.map(async (_, i) => [await cluster.tryAsk(i, "cluster", "info"), await cluster.tryAsk(i, "cluster", "nodes")]));
    const bad = cluster.nodes.flatMap((n, i) => {
      const state = /cluster_state:(\w+)/.exec(views[i][0])?.[1];
      const lines = views[i][1].trim().split("\n");
      const seen = lines.map((l) => (l.split(" ")[1] ?? "").split("@")[0]).sort().join(" ");
      const unlinked = lines.filter((l) => {
        const f = l.split(" ");
        return /fail|noaddr|handshake/.test(f[2] ?? "") || f[7] !== "connected";
      });
      return state === "ok" && seen === expected && unlinked.length === 0
        ? []
        : [`${n.host}: state=${state} sees ${seen}; unlinked: ${unlinked.map((l) => l.split(" ").slice(1, 3).join(" ")).join(", ")}`];
    });
    if (bad.length === 0) return Date.now() - t0;
    last = bad.join("\n");
    await sleep(pollMs);
  }
  throw new Error(`cluster not healthy within ${timeoutMs} ms:\n${last}`);
}

/** Runs fn with an ioredis Cluster client on the cluster's seeds, always disconnected afterwards. */
export async function withClient<T>(cluster: LocalCluster, password: string, fn: (r: Cluster) => Promise<T>): Promise<T> {
  const r = new Cluster(cluster.seeds.map((s) => ({ host: s.split(":")[0], port: Number(s.split(":")[1]) })), {
    redisOptions: { password, connectTimeout: 2000 },
    clusterRetryStrategy: (n) => (n > 20 ? null : 200),
    enableOfflineQueue: true,
  });
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}
