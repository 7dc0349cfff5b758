// Forgetting the nodes the plan removes, on every other node in one quick pass (CLUSTER FORGET bans a node for 60 s:
// every node must drop it within that, or gossip brings it back). It runs last in phase in: a leaving replica stays
// attached while its master is drained or until a kept replica has synced in its place.
import type { ScaleRun } from "../run";

/** Every leaving node, once it serves nothing and no kept replica follows it. */
export async function forget(run: ScaleRun): Promise<void> {
  const { live } = run;
  const s = await live.survey();
  const d = run.decide(s);
  const gone = s.members.filter((m) => d.remove.includes(m.name));
  if (!gone.length) return;
  for (const g of gone) {
    if (g.slots.length) throw new Error(`${g.name} still serves ${g.slots.length} slots; not forgetting it`);
    if (s.members.some((m) => m.masterId === g.id && !d.remove.includes(m.name))) throw new Error(`kept replicas still follow ${g.name}; not forgetting it`);
  }
  const goneIds = new Set(gone.map((g) => g.id));
  for (const m of s.members) {
    if (goneIds.has(m.id)) continue;
    for (const g of gone) {
      try {
        await live.conn(m.addr).call("CLUSTER", "FORGET", g.id);
      } catch (e) {
        if (!/Unknown node/i.test((e as Error).message)) throw new Error(`CLUSTER FORGET ${g.name} on ${m.name}: ${(e as Error).message}`);
      }
    }
  }
  run.log(`forgotten on every node: ${gone.map((g) => g.name).join(", ")} (they can be stopped now)`);
}
