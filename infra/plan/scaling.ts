// Pure scaling planner: from a cluster's topology (live, or assumed at preview) and the planned node list, which nodes
// join, leave, fail over, and which slots move from which master to which. The scale step (infra/scale) executes it
// against the live cluster; scalePreview shows it at `pulumi preview`. No I/O here.

export const SLOT_COUNT = 16384;

export type SlotRange = [number, number];

/** A node as the planner sees it. `name` is the planned name for planned nodes, the address for others. */
export interface NodeState {
  name: string;
  role: "master" | "replica";
  /** Replicas: name of the master they follow. */
  master?: string;
  /** Masters: the slots they own. */
  slots: number[];
}

export interface SlotMove {
  from: string;
  to: string;
  slots: number[];
}

export interface ScalingDecision {
  /** Planned nodes that are not cluster members yet (they must be empty). */
  join: string[];
  /** Of those, the ones that become masters (the rest become replicas). */
  newMasters: string[];
  /** Members that are not planned: forgotten on every node, then their containers/pods go. */
  remove: string[];
  /** Removed masters handed to one of their kept replicas first (CLUSTER FAILOVER on `to`). */
  failovers: { from: string; to: string }[];
  /** Masters whose slots all move away (removed masters without a kept replica, or kept masters beyond `masters`). */
  drain: string[];
  /** Kept masters that become replicas once drained. */
  demote: string[];
  /** Every slot move: drains first, then the fair-share rebalance. */
  moves: SlotMove[];
  /** Replicas (new, demoted, or following a leaving master / an over-served one) and the master each is attached to. */
  attach: { replica: string; master: string }[];
  /** The masters once done, in planned order. */
  finalMasters: string[];
  /** Why the plan cannot be reached without resetting a node (empty when it can). */
  problems: string[];
}

/** Contiguous ranges of a slot list (sorted copy). */
export function toRanges(slots: number[]): SlotRange[] {
  const s = [...slots].sort((a, b) => a - b);
  const out: SlotRange[] = [];
  for (const x of s) {
    const last = out[out.length - 1];
    if (last && x === last[1] + 1) last[1] = x;
    else out.push([x, x]);
  }
  return out;
}

export function formatRanges(slots: number[], max = 6): string {
  const r = toRanges(slots).map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`));
  return r.length > max ? `${r.slice(0, max).join(",")},… (${r.length} ranges)` : r.join(",");
}

/** Parses "0-5460" / "5461" tokens of CLUSTER NODES (migrating/importing markers are not slots). */
export function parseSlotTokens(tokens: string[]): number[] {
  const out: number[] = [];
  for (const t of tokens) {
    if (t.startsWith("[")) continue;
    const [a, b] = t.split("-").map(Number);
    for (let s = a; s <= (b ?? a); s++) out.push(s);
  }
  return out;
}

/** Slots of master i of n as `redis-cli --cluster create` assigns them (contiguous, rounded). */
export function createLayout(n: number): number[][] {
  const per = SLOT_COUNT / n;
  const out: number[][] = [];
  let first = 0;
  let cursor = 0;
  for (let i = 0; i < n; i++) {
    let last = Math.round(cursor + per - 1);
    if (last > SLOT_COUNT - 1 || i === n - 1) last = SLOT_COUNT - 1;
    if (last < first) last = first;
    const slots: number[] = [];
    for (let s = first; s <= last; s++) slots.push(s);
    out.push(slots);
    first = last + 1;
    cursor += per;
  }
  return out;
}

/**
 * Slot moves that give every final master a fair share (16384 / n, the remainder to those that already hold most, so a
 * balanced cluster moves nothing). Masters not in `finalMasters` give all their slots; over-served ones give from
 * their highest slots. Deterministic.
 */
export function planSlotMoves(owners: Record<string, number[]>, finalMasters: string[]): SlotMove[] {
  if (finalMasters.length === 0) return [];
  const n = finalMasters.length;
  const base = Math.floor(SLOT_COUNT / n);
  const extra = SLOT_COUNT % n;
  const have = (m: string) => owners[m]?.length ?? 0;
  const byHolding = [...finalMasters].sort((a, b) => have(b) - have(a) || finalMasters.indexOf(a) - finalMasters.indexOf(b));
  const quota = new Map(byHolding.map((m, i) => [m, base + (i < extra ? 1 : 0)]));
  const pool: { from: string; slots: number[] }[] = [];
  for (const [m, slots] of Object.entries(owners)) {
    if (!quota.has(m) && slots.length) pool.push({ from: m, slots: [...slots].sort((a, b) => a - b) });
  }
  for (const m of finalMasters) {
    const surplus = have(m) - quota.get(m)!;
    if (surplus > 0) pool.push({ from: m, slots: [...owners[m]].sort((a, b) => a - b).slice(-surplus) });
  }
  const moves = new Map<string, SlotMove>();
  const receivers = finalMasters.map((m) => ({ m, need: quota.get(m)! - have(m) })).filter((r) => r.need > 0);
  let ri = 0;
  for (const g of pool) {
    for (const slot of g.slots) {
      while (ri < receivers.length && receivers[ri].need === 0) ri++;
      if (ri >= receivers.length) break;
      const to = receivers[ri].m;
      const key = `${g.from}\u0000${to}`;
      if (!moves.has(key)) moves.set(key, { from: g.from, to, slots: [] });
      moves.get(key)!.slots.push(slot);
      receivers[ri].need--;
    }
  }
  return [...moves.values()];
}

/**
 * What it takes to go from `current` (cluster members) to `planned` (node names in ordinal order) with `masters`
 * masters of `replicasPerMaster` replicas each. Members not planned are removed (the highest ordinals, since the plan is
 * a prefix of the ordinals); planned nodes not members join. Master roles survive failovers, so the current roles count,
 * not the planned ones.
 */
export function decideScaling(current: NodeState[], planned: string[], masters: number, replicasPerMaster: number): ScalingDecision {
  const byName = new Map(current.map((n) => [n.name, n]));
  const plannedSet = new Set(planned);
  const rank = (x: string) => (plannedSet.has(x) ? planned.indexOf(x) : planned.length + current.findIndex((c) => c.name === x));
  const order = (a: string, b: string) => rank(a) - rank(b);
  const isMaster = (n: NodeState) => n.role === "master" && n.slots.length > 0;
  const kept = current.filter((n) => plannedSet.has(n.name));
  const remove = current.filter((n) => !plannedSet.has(n.name)).map((n) => n.name).sort(order);
  const join = planned.filter((p) => !byName.has(p));
  const problems: string[] = [];

  // Final masters: kept masters first (lowest ordinals), then removed masters handed to a kept replica, then new nodes.
  const keptMasters = kept.filter(isMaster).map((n) => n.name).sort(order);
  // A kept slotless master (e.g. joined earlier by this step and not yet given slots) is as good as a new node.
  const keptEmptyMasters = kept.filter((n) => n.role === "master" && n.slots.length === 0).map((n) => n.name).sort(order);
  const final = keptMasters.slice(0, masters);
  const drain = keptMasters.slice(masters);
  const demote = [...drain];
  const failovers: { from: string; to: string }[] = [];
  const removedMasters = current.filter((n) => !plannedSet.has(n.name) && isMaster(n)).map((n) => n.name).sort(order);
  for (const m of removedMasters) {
    const heir = kept.filter((n) => n.role === "replica" && n.master === m).map((n) => n.name).sort(order)[0];
    if (final.length < masters && heir) {
      failovers.push({ from: m, to: heir });
      final.push(heir);
    } else {
      drain.push(m);
    }
  }
  const newMasters: string[] = [];
  for (const c of [...keptEmptyMasters, ...join]) {
    if (final.length >= masters) break;
    final.push(c);
    if (join.includes(c)) newMasters.push(c);
  }
  if (final.length < masters) {
    problems.push(
      `${masters} masters are planned but only ${final.length} nodes can serve slots: a replica cannot become an empty master ` +
        `without CLUSTER RESET, which this step never runs. Scale in two updates (first the replicas, then the masters), ` +
        `or add pods (masters x (1 + replicasPerMaster)) so new empty nodes can take the new shards.`,
    );
  }
  final.sort(order);

  // Slots: drained masters give everything to the final masters; then every final master gets its fair share.
  // A failed-over master's slots are its heir's by the time slots move: the failover carries them, not a move.
  const heirOf = new Map(failovers.map((f) => [f.from, f.to]));
  const owners: Record<string, number[]> = {};
  for (const n of current) if (isMaster(n)) owners[heirOf.get(n.name) ?? n.name] = n.slots;
  const moves = final.length ? planSlotMoves(owners, final) : [];
  // Drains first, so the nodes that leave are emptied before anything else moves.
  moves.sort((a, b) => Number(final.includes(a.from)) - Number(final.includes(b.from)));

  // Replicas: who follows whom once done. A failed-over shard's other kept replicas follow the heir by themselves.
  const leader = new Map<string, string>(failovers.map((f) => [f.from, f.to]));
  const count = new Map(final.map((m) => [m, 0]));
  const pool: string[] = [];
  const heirs = new Set(failovers.map((f) => f.to));
  for (const n of [...kept].sort((a, b) => order(a.name, b.name))) {
    if (final.includes(n.name) || heirs.has(n.name)) continue;
    if (n.role === "replica") {
      const m = leader.get(n.master ?? "") ?? n.master ?? "";
      if (count.has(m) && count.get(m)! < replicasPerMaster) count.set(m, count.get(m)! + 1);
      else pool.push(n.name);
    } else if (!demote.includes(n.name)) {
      pool.push(n.name); // a kept slotless master that is not needed as a master
    }
  }
  pool.push(...demote, ...join.filter((j) => !newMasters.includes(j)));
  const attach: { replica: string; master: string }[] = [];
  for (const r of pool) {
    const target = final.filter((m) => count.get(m)! < replicasPerMaster).sort((a, b) => count.get(a)! - count.get(b)! || order(a, b))[0];
    if (!target) {
      problems.push(`${r} has no master left needing a replica (planned ${masters} x ${replicasPerMaster})`);
      continue;
    }
    count.set(target, count.get(target)! + 1);
    // Already following it: nothing to do.
    if (byName.get(r)?.role === "replica" && byName.get(r)?.master === target) continue;
    attach.push({ replica: r, master: target });
  }
  return { join, newMasters, remove, failovers, drain, demote, moves, attach, finalMasters: final, problems };
}

export interface Topology {
  masters: number;
  replicasPerMaster: number;
  /** Planned node names in ordinal order. */
  nodes: string[];
}

/** The topology a deployment had, as `redis-cli --cluster create` (and a balanced scale) leaves it: masters first. */
export function assumedState(t: Topology): NodeState[] {
  const layout = createLayout(t.masters);
  return t.nodes.map((name, i) =>
    i < t.masters
      ? { name, role: "master" as const, slots: layout[i] }
      : { name, role: "replica" as const, master: t.nodes[i % t.masters], slots: [] },
  );
}

/** Why a planned topology cannot hold a Redis Cluster at all (the config schema says the same with the key). */
export function topologyProblem(t: Pick<Topology, "masters" | "replicasPerMaster">): string | undefined {
  if (!Number.isInteger(t.masters) || t.masters < 3) {
    return `redis-cluster:masters must be >= 3 (a Redis Cluster needs a majority of 3 masters to fail over), got ${t.masters}`;
  }
  if (!Number.isInteger(t.replicasPerMaster) || t.replicasPerMaster < 0) {
    return `redis-cluster:replicasPerMaster must be >= 0, got ${t.replicasPerMaster}`;
  }
  return undefined;
}

/**
 * Human-readable lines of a decision (preview output, the scale step's plan, the runbook examples), in the order the
 * scale step runs them: failovers, drains (a drained master keeps its replicas until it is empty), replicas attached
 * and synced, then the slots moved to the masters that gain them (each has its replica by then), nodes forgotten last.
 */
export function describeDecision(d: ScalingDecision): string[] {
  const lines: string[] = [];
  const moveLines = (moves: SlotMove[], note: string) => {
    const n = moves.reduce((s, m) => s + m.slots.length, 0);
    if (!n) return;
    lines.push(`move ${n} slots:${note}`);
    for (const m of moves) lines.push(`  ${m.slots.length} slots ${m.from} -> ${m.to}: ${formatRanges(m.slots)}`);
  };
  if (d.join.length) {
    lines.push(`add ${d.join.length} node(s): ${d.join.map((j) => `${j} (${d.newMasters.includes(j) ? "master" : "replica"})`).join(", ")}`);
  }
  for (const f of d.failovers) lines.push(`fail over ${f.from} to its replica ${f.to}`);
  const one = d.drain.length === 1;
  moveLines(d.moves.filter((m) => d.drain.includes(m.from)), ` emptying ${d.drain.join(", ")} (${one ? "its" : "their"} replicas stay until ${one ? "it is" : "they are"} empty)`);
  if (d.demote.length) lines.push(`make replicas of emptied masters: ${d.demote.join(", ")}`);
  for (const a of d.attach) lines.push(`replicate: ${a.replica} -> ${a.master}`);
  moveLines(d.moves.filter((m) => !d.drain.includes(m.from)), "");
  if (d.remove.length) lines.push(`forget on every node, then remove: ${d.remove.join(", ")}`);
  for (const p of d.problems) lines.push(`PROBLEM: ${p}`);
  if (!lines.length) lines.push("no change");
  return lines;
}

/** A topology as stored in the stack state: roles and slot ranges per node. */
export interface LayoutEntry {
  name: string;
  role: "master" | "replica";
  master?: string;
  ranges?: SlotRange[];
}

export function toLayout(state: NodeState[]): LayoutEntry[] {
  return state.map((n) => (n.role === "master" ? { name: n.name, role: n.role, ranges: toRanges(n.slots) } : { name: n.name, role: n.role, master: n.master }));
}

export function fromLayout(layout: LayoutEntry[]): NodeState[] {
  return layout.map((e) => ({
    name: e.name, role: e.role, master: e.master,
    slots: (e.ranges ?? []).flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i)),
  }));
}

/** The state a decision leads to (what the preview records as the next deployment's layout). */
export function applyDecision(state: NodeState[], d: ScalingDecision, planned: string[]): NodeState[] {
  const slots = new Map<string, Set<number>>(state.filter((n) => n.role === "master").map((n) => [n.name, new Set(n.slots)]));
  // Failovers come first (the scale step runs them before it moves slots): the heir takes its master's slots.
  const heirOf = new Map(d.failovers.map((f) => [f.from, f.to]));
  for (const [from, to] of heirOf) {
    slots.set(to, slots.get(from) ?? new Set());
    slots.delete(from);
  }
  for (const m of d.moves) {
    for (const x of m.slots) slots.get(m.from)?.delete(x);
    if (!slots.has(m.to)) slots.set(m.to, new Set());
    for (const x of m.slots) slots.get(m.to)!.add(x);
  }
  const attach = new Map(d.attach.map((a) => [a.replica, a.master]));
  const before = new Map(state.map((n) => [n.name, n]));
  return planned.map((name) => {
    if (d.finalMasters.includes(name)) return { name, role: "master" as const, slots: [...(slots.get(name) ?? [])].sort((a, b) => a - b) };
    const was = before.get(name)?.master;
    return { name, role: "replica" as const, master: attach.get(name) ?? heirOf.get(was ?? "") ?? was, slots: [] };
  });
}

/** The `scaleTopology` stack output: a deployment's planned topology and the slot layout its plan leads to. */
export type ScaleTopology = Topology & { layout: LayoutEntry[] };

/**
 * What `pulumi preview` shows of a topology change (the `scalePlan` output) and the topology to record for the next
 * one; a change that cannot be reached without resetting a node is refused here, before any resource is declared.
 */
export function scalePreview(previous: (Topology & { layout?: LayoutEntry[] }) | undefined, next: Topology): { lines: string[]; topology: ScaleTopology } | { problem: string } {
  const bad = topologyProblem(next);
  if (bad) return { problem: bad };
  const { decision, lines, layout } = previewScaling(previous, next);
  if (decision?.problems.length) {
    return { problem: `redis-cluster:masters / replicasPerMaster: cannot scale ${previous!.masters}x${previous!.replicasPerMaster} -> ${next.masters}x${next.replicasPerMaster}: ${decision.problems.join("; ")}` };
  }
  return { lines, topology: { ...next, layout } };
}

/**
 * Preview: the plan from the previous deployment's layout (its scaleTopology output; without one, the layout
 * `--cluster create` gives) to the next topology. Returns the layout the plan leads to, for the next preview.
 */
export function previewScaling(previous: (Topology & { layout?: LayoutEntry[] }) | undefined, next: Topology): { decision?: ScalingDecision; lines: string[]; layout: LayoutEntry[] } {
  if (!previous || !previous.nodes?.length) {
    return { lines: [`create ${next.masters} masters x ${next.replicasPerMaster} replicas (bootstrap)`], layout: toLayout(assumedState(next)) };
  }
  const prevState = previous.layout?.length ? fromLayout(previous.layout) : assumedState(previous);
  if (previous.masters === next.masters && previous.replicasPerMaster === next.replicasPerMaster && previous.nodes.join() === next.nodes.join()) {
    return { lines: ["no change"], layout: toLayout(prevState) };
  }
  const decision = decideScaling(prevState, next.nodes, next.masters, next.replicasPerMaster);
  return {
    decision,
    lines: [
      `scale ${previous.masters}x${previous.replicasPerMaster} -> ${next.masters}x${next.replicasPerMaster} ` +
        `(from the layout the last deployment planned; failovers since may differ: the scale step prints the exact plan from the live cluster)`,
      ...describeDecision(decision),
    ],
    layout: toLayout(applyDecision(prevState, decision, next.nodes)),
  };
}
