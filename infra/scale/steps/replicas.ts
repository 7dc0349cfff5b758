// Attaching replicas to the masters the plan gives them (CLUSTER REPLICATE), each synced before the next.
import { sleep } from "../../../smoke/time";
import type { ScaleRun } from "../run";

/** `inPhase`: phase in re-points only what blocks a FORGET or a demotion. */
export async function attach(run: ScaleRun, inPhase: boolean): Promise<void> {
  const { live } = run;
  const s = await live.survey();
  const d = run.decide(s);
  const byName = new Map(s.members.map((m) => [m.name, m]));
  for (const a of d.attach) {
    const r = byName.get(a.replica);
    const m = byName.get(a.master);
    if (!r || !m) continue; // a node that does not exist yet (phase in)
    if (inPhase) {
      // Demoted masters and replicas of leaving/drained masters; balancing the kept replicas waits for phase out
      // (new nodes may take those places).
      const cur = s.members.find((y) => y.id === r.masterId)?.name;
      if (!d.demote.includes(r.name) && !(cur && (d.drain.includes(cur) || d.remove.includes(cur)))) continue;
    }
    if (r.slots.length) throw new Error(`${r.name} still serves ${r.slots.length} slots; not making it a replica`);
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
    await run.waitFor(`${r.name} to sync from ${m.name}`, async () => (await live.linkStatus(r.addr)) === "up");
  }
}
