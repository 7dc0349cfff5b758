// slots: cluster_state ok on every node, 16384 slots covered exactly once, no open (migrating/importing) slot,
// all nodes agree on the slot map, masters / replicas per master as expected.
import type { SmokeContext } from "../context";
import { analyzeSlotMaps, badFlags, countSlots, formatRanges, isMaster, openSlots, slotsOf, SLOT_COUNT, type NodeView } from "../topology";
import { CheckFailure, type Measurements } from "../types";

export async function checkSlots(ctx: SmokeContext): Promise<{ details: string; measurements: Measurements }> {
  ctx.setStep("reading CLUSTER NODES / CLUSTER INFO of every node");
  const snaps = await ctx.snapshot();
  const problems: string[] = [];
  const views: NodeView[] = [];
  for (const s of snaps) {
    if (s.error || !s.lines || !s.info) {
      problems.push(`node ${s.label} did not answer: ${s.error}`);
      continue;
    }
    views.push({ node: s.label, lines: s.lines });
    const i = s.info;
    if (i.cluster_state !== "ok") {
      problems.push(`node ${s.label} reports cluster_state:${i.cluster_state} (slots assigned ${i.cluster_slots_assigned}, ok ${i.cluster_slots_ok}, pfail ${i.cluster_slots_pfail}, fail ${i.cluster_slots_fail})`);
    }
    for (const n of s.lines) {
      const bad = badFlags(n);
      if (bad.length) problems.push(`node ${s.label} sees ${ctx.label(n.addr)} as ${bad.join(",")}`);
    }
  }
  if (views.length === 0) throw new CheckFailure(problems, { nodes: snaps.length, answered: 0 });

  const label = (id: string) => {
    const addr = ctx.ids.get(id);
    return addr ? ctx.label(addr) : id.slice(0, 6);
  };
  const a = analyzeSlotMaps(views, label);
  for (const u of a.uncovered) {
    const who = u.nodes.length === views.length ? `every node (${u.nodes.length})` : u.nodes.join(", ");
    problems.push(`${u.count} slot(s) not assigned to any master: ${u.ranges} (seen by ${who})`);
  }
  for (const d of a.duplicated) problems.push(`slots ${d.ranges} are claimed by several masters (${d.owners.join(", ")}) in the view of ${d.node}`);
  // A slot left MIGRATING/IMPORTING (an interrupted resharding) still has an owner and cluster_state stays ok, but keys
  // of it answer ASK and `redis-cli --cluster check` / `fix` refuse to go on: a failure.
  const open = openSlots(views, label);
  for (const o of open) problems.push(o.message);
  for (const d of a.disagreements) {
    problems.push(`nodes disagree on the owner of ${d.count} slot(s) ${d.ranges}: ${d.claims.map((c) => `${c.nodes.join(", ")} say ${c.owner}`).join("; ")}`);
  }

  // Roles from the first view that has a full map (others agree, or the disagreement is reported above).
  const ref = views.find((v) => !a.uncovered.some((u) => u.nodes.includes(v.node))) ?? views[0];
  const topo = ctx.buildTopology(ref.lines);
  ctx.topology = topo;
  const emptyMasters = ref.lines.filter((n) => isMaster(n) && n.slots.length === 0 && !n.flags.includes("fail"));
  for (const m of emptyMasters) problems.push(`master ${ctx.label(m.addr)} owns no slots`);
  const { expectMasters, expectReplicas } = ctx.opts;
  if (expectMasters !== undefined && topo.masters.length !== expectMasters) {
    problems.push(`expected ${expectMasters} masters, found ${topo.masters.length}: ${topo.masters.map((m) => m.label).join(", ")}`);
  }
  if (expectReplicas !== undefined) {
    for (const m of topo.masters) {
      if (m.replicas.length !== expectReplicas) {
        problems.push(`master ${m.label} (slots ${formatRanges(slotsOf(m.slots))}) has ${m.replicas.length} replica(s)${m.replicas.length ? ` (${m.replicas.map((r) => r.label).join(", ")})` : ""}, expected ${expectReplicas}`);
      }
    }
  }
  const covered = SLOT_COUNT - (a.uncovered.find((u) => u.nodes.includes(ref.node))?.count ?? 0);
  const replicaCounts = topo.masters.map((m) => m.replicas.length);
  const m: Measurements = {
    nodes: snaps.length,
    answered: views.length,
    masters: topo.masters.length,
    replicas: replicaCounts.reduce((x, y) => x + y, 0),
    min_replicas_per_master: replicaCounts.length ? Math.min(...replicaCounts) : 0,
    slots_covered: covered,
    views_agree: a.disagreements.length === 0,
    open_slots: open.length,
  };
  if (problems.length) throw new CheckFailure(problems, m, `${problems.length} problem(s): ${problems[0]}`);
  const perMaster = topo.masters.map((x) => countSlots(x.slots));
  const same = replicaCounts.every((c) => c === replicaCounts[0]);
  return {
    details: `${topo.masters.length} masters × ${same ? replicaCounts[0] : replicaCounts.join("/")} replica(s); ${SLOT_COUNT} slots covered once (${Math.min(...perMaster)}-${Math.max(...perMaster)} per master); ${views.length} nodes agree; cluster_state ok everywhere`,
    measurements: m,
  };
}
