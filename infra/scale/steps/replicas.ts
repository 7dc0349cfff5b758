// Replicas: attaching them to the masters the plan gives them (CLUSTER REPLICATE), each synced before the next, and the
// check that a master has a synced replica before slots (keys) move to it.
import { sleep } from "../../../smoke/time";
import { parseClusterNodes } from "../../../smoke/topology";
import type { ScaleRun } from "../run";
import type { LiveNode, Survey } from "../survey";

/** A full sync of a large master can take minutes (the run's own deadline still bounds it). */
const SYNC_WAIT_MS = 10 * 60_000;

const followers = (s: Survey, master: LiveNode) => s.members.filter((m) => m.role === "replica" && m.masterId === master.id);

/**
 * `inPhase`: phase in re-points only what must be done before nodes are forgotten: demoted masters, replicas of leaving
 * or drained masters, and a replica for a master that would keep none (the rest waits for phase out: new nodes may take
 * those places).
 */
export async function attach(run: ScaleRun, inPhase: boolean): Promise<void> {
  const { live } = run;
  const s = await live.survey();
  const d = run.decide(s);
  const byName = new Map(s.members.map((m) => [m.name, m]));
  for (const a of d.attach) {
    const r = byName.get(a.replica);
    const m = byName.get(a.master);
    if (!r || !m) continue; // a node that does not exist yet (phase in)
    const cur = s.members.find((y) => y.id === r.masterId);
    if (inPhase) {
      const keepsNone = !followers(s, m).some((f) => !d.remove.includes(f.name));
      if (!d.demote.includes(r.name) && !(cur && (d.drain.includes(cur.name) || d.remove.includes(cur.name))) && !keepsNone) continue;
    }
    if (r.slots.length) throw new Error(`${r.name} still serves ${r.slots.length} slots; not making it a replica`);
    // Never the last replica of a master that still serves slots: its keys would be on one copy only.
    if (cur?.slots.length && followers(s, cur).length === 1) {
      run.log(`${r.name} stays with ${cur.name} (its only replica while it serves slots)`);
      continue;
    }
    for (let attempt = 1; ; attempt++) {
      try {
        await live.conn(r.addr).call("CLUSTER", "REPLICATE", m.id);
        break;
      } catch (e) {
        // Right after a MEET the new node may not know the master's id yet (gossip).
        if (attempt >= 30 || !/Unknown node/i.test((e as Error).message)) throw new Error(`CLUSTER REPLICATE ${m.name} on ${r.name}: ${(e as Error).message}`);
        await sleep(500);
      }
    }
    run.log(`${r.name} now replicates ${m.name}`);
    await run.waitFor(`${r.name} to sync from ${m.name}`, async () => (await live.linkStatus(r.addr)) === "up", SYNC_WAIT_MS);
  }
}

/**
 * Before slots move to `master` (when the plan has replicas): at least one replica follows it, every one that does has
 * finished its sync (master_link_status:up), and every master knows it as `master`'s replica (gossip; the failover
 * target the others vote for). Each key moved there is then on two copies from its first write.
 */
export async function waitForSyncedReplica(run: ScaleRun, master: LiveNode): Promise<void> {
  if (run.o.replicasPerMaster === 0) return;
  const { live } = run;
  await run.waitFor(`a synced replica of ${master.name} before slots move to it`, async () => {
    const s = await live.survey();
    const f = followers(s, master);
    if (!f.length) return false;
    for (const x of f) if ((await live.linkStatus(x.addr)) !== "up") return false;
    for (const m of s.members.filter((y) => y.role === "master")) {
      const view = parseClusterNodes(await live.nodesView(m.addr));
      if (!f.every((x) => view.some((l) => l.id === x.id && l.masterId === master.id))) return false;
    }
    return true;
  }, SYNC_WAIT_MS);
}
