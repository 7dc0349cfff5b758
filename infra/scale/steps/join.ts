// Joining the planned nodes that are not members yet: CLUSTER MEET through a master that serves slots, then a wait
// until every node knows every other (replicas attach after that; slots move once every node is also ok).
import type { ScaleRun } from "../run";
import { parseAddr } from "../survey";

export async function join(run: ScaleRun): Promise<void> {
  const { live, o } = run;
  const s = await live.survey();
  const d = run.decide(s);
  if (!d.join.length) return;
  const seed = s.members.find((m) => m.role === "master" && m.slots.length)!;
  const joining = d.join.map((name) => {
    const i = o.nodes.findIndex((_, j) => live.name(j) === name);
    const ip = live.plannedIp(o.nodes[i]);
    if (!ip) throw new Error(`cannot resolve ${o.nodes[i]} for CLUSTER MEET`);
    return { name, ip, ...parseAddr(ip) };
  });
  for (const n of joining) {
    await live.conn(seed.addr).call("CLUSTER", "MEET", n.host, String(n.port));
    run.log(`CLUSTER MEET ${n.name} (${n.ip}) via ${seed.name}`);
  }
  // Every other member and every other joining node meets it too: each knows it at once instead of waiting for the
  // seed's gossip (a node that knew it already drops the extra handshake once the reply names a node it has). Only a
  // speed-up: one that fails is logged and the wait below decides.
  const others = [...s.members.filter((m) => m !== seed).map((m) => ({ name: m.name, addr: m.addr })), ...joining.map((n) => ({ name: n.name, addr: n.ip }))];
  const meets = joining.flatMap((n) => others.filter((o) => o.addr !== n.ip).map((o) => ({ n, o })));
  const results = await Promise.allSettled(meets.map(({ n, o }) => live.conn(o.addr).call("CLUSTER", "MEET", n.host, String(n.port))));
  results.forEach((r, k) => {
    if (r.status === "rejected") run.log(`CLUSTER MEET ${meets[k].n.name} from ${meets[k].o.name} failed (${(r.reason as Error).message}); the gossip of the others still introduces it`);
  });
  // Not cluster_state ok yet: a new master turns ok only after Redis's delays (2 s after it started, and after joining
  // about cluster-node-timeout, 0.5-5 s, as it rejoins from a minority); its replica attaches and syncs meanwhile, and
  // slots move only once every node is ok (moveSlots).
  await run.waitFor("every node to know every other", async () => {
    const t = await live.survey();
    const ids = new Set(t.members.map((m) => m.id));
    return t.outsiders.length === 0 && t.members.every((m) => m.knows.size === ids.size && !m.sees.length);
  });
}
