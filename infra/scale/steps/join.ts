// Joining the planned nodes that are not members yet: CLUSTER MEET through a master that serves slots, then a wait
// until every node knows every other (slots move to a new node only after that).
import type { ScaleRun } from "../run";
import { parseAddr } from "../survey";

export async function join(run: ScaleRun): Promise<void> {
  const { live, o } = run;
  const s = await live.survey();
  const d = run.decide(s);
  if (!d.join.length) return;
  const seed = s.members.find((m) => m.role === "master" && m.slots.length)!;
  for (const name of d.join) {
    const i = o.nodes.findIndex((_, j) => live.name(j) === name);
    const ip = live.plannedIp(o.nodes[i]);
    if (!ip) throw new Error(`cannot resolve ${o.nodes[i]} for CLUSTER MEET`);
    const { host, port } = parseAddr(ip);
    await live.conn(seed.addr).call("CLUSTER", "MEET", host, String(port));
    run.log(`CLUSTER MEET ${name} (${ip}) via ${seed.name}`);
  }
  await run.waitFor("every node to know every other", async () => {
    const t = await live.survey();
    const ids = new Set(t.members.map((m) => m.id));
    // A node that just joined answers CLUSTERDOWN (and refuses RESTORE-ASKING) until it sees the slots covered.
    return t.outsiders.length === 0 && t.members.every((m) => m.knows.size === ids.size && !m.sees.length && m.info.cluster_state === "ok");
  });
}
