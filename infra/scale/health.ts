// Whether a surveyed cluster is fit for a scale step to start: one cluster, every slot served once, nothing failing,
// open slots only between members, and no planned node that brings data of its own.
import { SLOT_COUNT } from "../plan/scaling";
import type { Phase } from "./options";
import type { LiveCluster, Survey } from "./survey";

/** What is wrong with the cluster for a scale step to start (empty: healthy). */
export function healthProblems(live: LiveCluster, planned: string[], s: Survey, phase: Phase): string[] {
  const p: string[] = [];
  const ids = new Set(s.members.map((m) => m.id));
  for (const u of s.unreachable) {
    // In phase "in", planned nodes that do not exist yet (pods created after this step) are expected.
    if (phase !== "in") p.push(`${u} does not answer`);
  }
  for (const m of s.members) {
    if (m.info.cluster_state !== "ok") p.push(`${m.name}: cluster_state:${m.info.cluster_state}`);
    for (const x of m.sees) p.push(`${m.name} sees ${x.id.slice(0, 8)} flagged ${x.flags}`);
    for (const k of m.knows) if (!ids.has(k)) p.push(`${m.name} knows ${k.slice(0, 8)}, which no member answers for`);
    if (m.role === "replica" && m.info.cluster_state === "ok") {
      const masterKnown = m.masterId && ids.has(m.masterId);
      if (!masterKnown) p.push(`${m.name} replicates ${m.masterId}, which is not a member`);
    }
  }
  const owners = new Array<number>(SLOT_COUNT).fill(0);
  for (const m of s.members) if (m.role === "master") for (const x of m.slots) owners[x]++;
  const missing = owners.filter((c) => c === 0).length;
  const twice = owners.filter((c) => c > 1).length;
  if (missing) p.push(`${missing} slots are served by no member`);
  if (twice) p.push(`${twice} slots are claimed by two members`);
  // Open slots are finished by this step only when both sides are members that answer.
  for (const m of s.members) {
    for (const [slot, other] of [...m.migrating, ...m.importing]) {
      if (!ids.has(other)) p.push(`slot ${slot} is open on ${m.name} towards ${other.slice(0, 8)}, which is not a member: fix by hand (docs/runbooks.md)`);
    }
  }
  // Every member must belong to the one cluster: a planned node that knows other nodes but is unknown to the cluster
  // (a former member back with its old nodes.conf, or another cluster) is never merged in.
  const core = s.members.find((m) => m.slots.length && planned.some((a) => live.memberAt([m], a)));
  if (core) {
    for (const m of s.members) {
      if (!core.knows.has(m.id) && !s.members.some((x) => x.id !== m.id && core.knows.has(x.id) && x.knows.has(m.id))) {
        p.push(`${m.name} knows ${m.knows.size} nodes but no member knows it (a former member with its old nodes.conf, or another cluster): delete its data volume (docs/runbooks.md, Scale out) or fix by hand`);
      }
    }
  }
  for (const o of s.outsiders) {
    if (o.keys > 0 || o.slots > 0) p.push(`${o.planned} is not a member but holds ${o.keys} keys / ${o.slots} slots: refusing to add a node with data`);
  }
  return p;
}
