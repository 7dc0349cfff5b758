// A master absent after a crash (its pod held back), its IP reused by another shard's master or not: the replica
// must never replicate from the impostor and must take over by itself (or, with the validity factor 10, be refused).
import { sleep } from "../../../smoke/time";
import { answering, freeIp, hookWaits, KEYS, restartAll, type ProdCluster } from "./cluster";
import { writesHeld, type Row } from "./report";
import { AckedWriters } from "./writers";

/**
 * A master absent after a crash (its pod held back). reuse: another shard's master comes back on its old IP.
 * Expected with clusterReplicaValidityFactor 0 (Pulumi.prod.yaml): the replica never replicates from the impostor and
 * takes over after the failure detection; the cluster is ok without the master; the master then rejoins as replica.
 */
export async function masterAbsent(c: ProdCluster, reuse: boolean, label?: string, expectTakeover = true, warmupMs = 3000): Promise<Row> {
  const shards = await c.shards();
  const [a, b] = shards;
  const m = a.master;
  const ips: Record<string, string> = {};
  if (reuse) ips[b.master] = c.ip(m);
  const mOldIp = c.ip(m);
  const w = new AckedWriters(c, reuse ? "absent-reuse" : "absent").start();
  await sleep(warmupMs);
  w.mark = Date.now();
  const t = await restartAll(c, "crash", ips, [m]);
  await w.stop();
  // Without the master: does the rest become ok by itself (its replica promoted)?
  const others = c.pods().filter((p) => p !== m);
  let okWithoutMs: number | undefined;
  const hosts = new Set<string>();
  let readyWhileBroken = 0;
  let infoMasterSamples = 0;
  // The window opens once the other five answer (their start is slow on a loaded host), then lasts 90 s (45 s when no
  // takeover is expected).
  await answering(c, others, 300_000);
  const answeredMs = Date.now() - t;
  const windowMs = expectTakeover ? 90_000 : 45_000;
  for (const t0 = Date.now(); Date.now() - t0 < windowMs; ) {
    const views = await Promise.all(others.map((p) => c.view(p)));
    const rv = views.find((v) => v.pod === a.replica);
    if (rv?.masterHost && rv.role === "slave") hosts.add(rv.masterHost);
    // What the exporter shows of a replica whose master has no address: INFO role:master (RedisClusterExtraMaster).
    if (rv?.clusterRole === "slave" && rv.role === "master") infoMasterSamples++;
    const allOk = views.every((v) => v.state === "ok");
    const promoted = rv?.clusterRole === "master";
    // Readiness must not say Ready while a master holding slots is unreachable or noaddr in that pod's own view.
    for (const v of views) {
      const broken = v.nodes.some((n) => n[2].includes("master") && n.length > 8 && /noaddr|fail/.test(n[2]));
      if (broken && c.runner.pods.get(v.pod)?.ready) readyWhileBroken++;
    }
    if (allOk && promoted) {
      okWithoutMs = Date.now() - t;
      break;
    }
    await sleep(500);
  }
  c.runner.release(m, freeIp(c));
  const ms = await c.waitWhole(180_000).then(() => Date.now() - t).catch(() => undefined);
  const lost = await w.lost();
  const missing = await c.missingKeys("base", KEYS);
  const impostor = reuse && hosts.has(mOldIp);
  return {
    scenario: label ?? `master absent after a crash, ${reuse ? "its IP reused by another shard's master" : "its IP not reused"}`,
    expected: expectTakeover
      ? "replica never syncs from another node; replica takes over by itself; whole when the master returns"
      : "Redis refuses the takeover (data age): CLUSTERDOWN until the master returns",
    observed:
      `${impostor ? "replica REPLICATED FROM THE IMPOSTOR" : `replica replicated from ${[...hosts].join(",") || "nothing"}`}; ` +
      `others answered ${(answeredMs / 1000).toFixed(1)} s after the restart; ` +
      `${okWithoutMs !== undefined ? `ok without the master after ${(okWithoutMs / 1000).toFixed(1)} s (replica promoted)` : `not ok without the master ${windowMs / 1000} s after they answered`}; ` +
      `${readyWhileBroken} Ready samples while the pod's view had a master noaddr/fail; ${KEYS - missing.length}/${KEYS} keys`,
    pass: !impostor && (okWithoutMs !== undefined) === expectTakeover && ms !== undefined && missing.length === 0 && writesHeld(lost) && readyWhileBroken === 0,
    timeToOkMs: okWithoutMs,
    lost,
    notes: [
      await hookWaits(c),
      `replica said INFO role:master (noaddr master, no replication) in ${infoMasterSamples} samples`,
      ms !== undefined ? `whole with the master back ${(ms / 1000).toFixed(1)} s after the restart` : "not whole after the master came back",
      `writes: ${w.describeLost()}; absent master's slots ${a.slots ?? "?"}`,
    ],
  };
}
