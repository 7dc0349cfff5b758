// A crash of every pod with the IPs rotated among five of them and one master late: no node may sync from a wrong
// peer (its replica is watched throughout).
import { sleep } from "../../../smoke/time";
import { answering, freeIp, hookWaits, KEYS, restartAll, type ProdCluster } from "./cluster";
import { writesHeld, type Row } from "./report";
import { AckedWriters } from "./writers";

/** IPs of the present pods rotated among themselves; one master late by lateMs, then back on a new IP. */
export async function crashSwappedIpsLateMaster(c: ProdCluster, lateMs = 25_000): Promise<Row> {
  const [shard] = await c.shards();
  const m = shard.master;
  const others = c.pods().filter((p) => p !== m);
  const ips: Record<string, string> = {};
  others.forEach((p, i) => (ips[p] = c.ip(others[(i + 1) % others.length])));
  const w = new AckedWriters(c, "swap").start();
  await sleep(2000);
  await w.stop();
  w.mark = Date.now();
  const t = await restartAll(c, "crash", ips, [m]);
  let released = 0;
  const watch = watchReplica(c, shard.replica!, () => released > 0 && Date.now() - released > 10_000);
  // Late = lateMs after the other five answer (their start is slow on a loaded host).
  await answering(c, others, 300_000);
  await sleep(lateMs);
  c.runner.release(m, freeIp(c));
  released = Date.now();
  const seen = await watch;
  const ms = await c.waitWhole(180_000).then(() => Date.now() - t).catch(() => undefined);
  const lost = await w.lost();
  const missing = await c.missingKeys("base", KEYS);
  return {
    scenario: `crash full restart, IPs rotated among 5 pods, a master late (${lateMs / 1000} s after the others answered)`,
    expected: "no node syncs from a wrong peer; whole after the late master; every key there",
    observed: `replica of the late master replicated from ${[...seen.hosts].join(",") || "nothing"}; ${seen.takeover ? "it took over while the master was late" : "it waited"}; ${KEYS - missing.length}/${KEYS} keys`,
    pass: ms !== undefined && missing.length === 0 && writesHeld(lost) && ![...seen.hosts].some((h) => !seen.allowed.has(h)),
    timeToOkMs: ms,
    lost,
    notes: [await hookWaits(c), `writes: ${w.describeLost()}`],
  };
}

/** Samples a replica's master_host while a scenario runs: the addresses it replicated from. */
async function watchReplica(c: ProdCluster, pod: string, done: () => boolean): Promise<{ hosts: Set<string>; allowed: Set<string>; takeover: boolean }> {
  const hosts = new Set<string>();
  const allowed = new Set<string>();
  let takeover = false;
  for (const t0 = Date.now(); Date.now() - t0 < 600_000 && !done(); ) {
    const v = await c.view(pod).catch(() => undefined);
    if (v && !v.error) {
      if (v.clusterRole === "master") takeover = true;
      if (v.masterHost && v.role === "slave") hosts.add(v.masterHost);
      // The address of whichever node is this replica's master by id, as its peers report it now.
      const me = v.nodes.find((n) => n[2].includes("myself"));
      const master = me ? v.nodes.find((n) => n[0] === me[3]) : undefined;
      const mPod = master ? c.pods().find((p) => c.runner.pods.get(p)?.ip === master[1].split(":")[0]) : undefined;
      if (mPod) allowed.add(c.ip(mPod));
    }
    await sleep(300);
  }
  return { hosts, allowed, takeover };
}
