// The pure scaling planner: a table of topology changes, each checked for what it plans (who joins, leaves, fails
// over, is drained) and for what every plan must hold: fair slot shares once done, slots moved only by donors and only
// as many as needed, every final master with its planned replicas. The scale step and the preview both act on it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  SLOT_COUNT,
  applyDecision,
  assumedState,
  createLayout,
  decideScaling,
  describeDecision,
  formatRanges,
  fromLayout,
  parseSlotTokens,
  planSlotMoves,
  previewScaling,
  scalePreview,
  toLayout,
  toRanges,
  topologyProblem,
  type NodeState,
  type ScalingDecision,
} from "../../../infra/plan/scaling";

const name = (i: number) => `rc-${i}`;
const names = (n: number) => Array.from({ length: n }, (_, i) => name(i));
/** A cluster as `--cluster create` leaves it: masters first, replica i following master i % masters. */
const created = (masters: number, replicas: number) => assumedState({ masters, replicasPerMaster: replicas, nodes: names(masters * (1 + replicas)) });
const slotsOf = (state: NodeState[], node: string) => state.find((n) => n.name === node)!.slots;
const range = (a: number, b: number) => Array.from({ length: b - a + 1 }, (_, i) => a + i);

/** Slots per master once the failovers (the heir takes its master's slots) and the moves are applied, checking each move's source owns what it gives. */
function slotsAfter(current: NodeState[], d: ScalingDecision): Map<string, Set<number>> {
  const owners = new Map(current.filter((n) => n.role === "master" && n.slots.length).map((n) => [n.name, new Set(n.slots)]));
  for (const f of d.failovers) {
    owners.set(f.to, owners.get(f.from) ?? new Set());
    owners.delete(f.from);
  }
  for (const m of d.moves) {
    const from = owners.get(m.from);
    const foreign = m.slots.filter((x) => !from?.has(x));
    assert.deepEqual(foreign, [], `${m.from} -> ${m.to} moves slots ${m.from} does not own then`);
    for (const x of m.slots) from!.delete(x);
    if (!owners.has(m.to)) owners.set(m.to, new Set());
    for (const x of m.slots) owners.get(m.to)!.add(x);
  }
  for (const [m, s] of owners) if (s.size === 0) owners.delete(m);
  return owners;
}

/** What every plan without problems must hold. */
function assertReachesPlan(current: NodeState[], planned: string[], masters: number, replicas: number, d: ScalingDecision): void {
  assert.deepEqual(d.problems, []);
  // Fair shares: every slot served once, by the final masters only, each within one slot of 16384 / n.
  const after = slotsAfter(current, d);
  assert.deepEqual([...after.keys()].sort(), [...d.finalMasters].sort(), "the masters serving slots once done");
  assert.equal(d.finalMasters.length, masters);
  const all = [...after.values()].flatMap((s) => [...s]);
  assert.equal(all.length, SLOT_COUNT, "each slot served once");
  assert.equal(new Set(all).size, SLOT_COUNT);
  const fair = SLOT_COUNT / masters;
  for (const [m, s] of after) assert.ok(s.size >= Math.floor(fair) && s.size <= Math.ceil(fair), `${m} serves ${s.size} slots, fair is ${fair}`);
  // Moves only from donors: no master both gives and receives (so no slot moves twice).
  const givers = new Set(d.moves.map((m) => m.from));
  const takers = new Set(d.moves.map((m) => m.to));
  assert.deepEqual([...givers].filter((g) => takers.has(g)), [], "a master that gives also receives");
  // Replicas: every planned node that is not a final master follows one, each final master has `replicas` of them.
  const was = new Map(current.map((n) => [n.name, n]));
  const heir = new Map(d.failovers.map((f) => [f.from, f.to]));
  const attached = new Map(d.attach.map((a) => [a.replica, a.master]));
  const followers = new Map(d.finalMasters.map((m) => [m, 0]));
  for (const n of planned.filter((p) => !d.finalMasters.includes(p))) {
    const old = was.get(n)?.role === "replica" ? was.get(n)!.master! : undefined;
    const master = attached.get(n) ?? heir.get(old ?? "") ?? old;
    assert.ok(master !== undefined && followers.has(master), `${n} follows ${master}, not a final master`);
    followers.set(master, followers.get(master)! + 1);
  }
  for (const [m, count] of followers) assert.equal(count, replicas, `${m} has ${count} replicas`);
  assert.deepEqual(d.remove, [...was.keys()].filter((n) => !planned.includes(n)));
  assert.deepEqual(d.join, planned.filter((p) => !was.has(p)));
}

interface Case {
  name: string;
  current: NodeState[];
  masters: number;
  replicas: number;
  /** Planned node names; default: the first masters x (1 + replicas) ordinals. */
  planned?: string[];
  expect: Partial<Pick<ScalingDecision, "newMasters" | "failovers" | "drain" | "demote" | "attach" | "finalMasters">> & {
    /** Slots moved, from -> to: count. */
    moves?: Record<string, number>;
    /** A problem refuses the plan. */
    problem?: RegExp;
  };
}

// A live cluster after a failover: rc-2's replica rc-5 took over its shard.
const failedOver: NodeState[] = created(3, 1).map((n) =>
  n.name === name(2) ? { name: n.name, role: "replica", master: name(5), slots: [] } : n.name === name(5) ? { name: n.name, role: "master", slots: slotsOf(created(3, 1), name(2)) } : n,
);
// A scale out interrupted after rc-6 joined as a master and before it got slots.
const joinedEmpty: NodeState[] = [...created(3, 1), { name: name(6), role: "master", slots: [] }];
// Replicas unevenly spread: rc-1's two replicas (rc-4, rc-7) follow rc-0 and rc-2 instead.
const uneven: NodeState[] = created(3, 2).map((n) => (n.name === name(4) ? { ...n, master: name(0) } : n.name === name(7) ? { ...n, master: name(2) } : n));
// Slots unevenly spread among three masters (a rebalance by hand left rc-0 and rc-1 over-served).
const lopsided: NodeState[] = [
  { name: name(0), role: "master", slots: range(0, 6999) },
  { name: name(1), role: "master", slots: range(7000, 12999) },
  { name: name(2), role: "master", slots: range(13000, 16383) },
];

const CASES: Case[] = [
  {
    name: "3x1 -> 4x1: a new master takes a fair share from each, a new replica follows it",
    current: created(3, 1), masters: 4, replicas: 1,
    expect: { newMasters: [name(6)], finalMasters: [0, 1, 2, 6].map(name), attach: [{ replica: name(7), master: name(6) }], moves: { "rc-0 -> rc-6": 1365, "rc-1 -> rc-6": 1366, "rc-2 -> rc-6": 1365 } },
  },
  {
    name: "3x1 -> 4x2: masters and replicas at once",
    current: created(3, 1), masters: 4, replicas: 2,
    expect: { newMasters: [name(6)], finalMasters: [0, 1, 2, 6].map(name) },
  },
  {
    name: "3x1 -> 6x1: three new masters, each old one gives half",
    current: created(3, 1), masters: 6, replicas: 1,
    expect: { newMasters: [6, 7, 8].map(name) },
  },
  {
    name: "3x1 -> 3x2: new replicas only, no slot moves",
    current: created(3, 1), masters: 3, replicas: 2,
    expect: { newMasters: [], attach: [6, 7, 8].map((i) => ({ replica: name(i), master: name(i - 6) })), moves: {} },
  },
  {
    name: "4x1 -> 3x1: the kept master beyond three is drained and becomes a replica of the one its replica left",
    current: created(4, 1), masters: 3, replicas: 1,
    expect: { drain: [name(3)], demote: [name(3)], attach: [{ replica: name(3), master: name(2) }], moves: { "rc-3 -> rc-0": 1366, "rc-3 -> rc-1": 1365, "rc-3 -> rc-2": 1365 } },
  },
  {
    name: "3x2 -> 3x1: replicas removed, nothing moves, nobody re-attached",
    current: created(3, 2), masters: 3, replicas: 1,
    expect: { attach: [], moves: {}, drain: [], failovers: [] },
  },
  {
    name: "3x2 -> 3x1 with replicas unevenly spread: the second replica of one master moves to the master left without",
    current: uneven, masters: 3, replicas: 1,
    expect: { attach: [{ replica: name(4), master: name(1) }], moves: {} },
  },
  {
    name: "a kept master without slots (a scale out interrupted after the join) is used before a new node",
    current: joinedEmpty, masters: 4, replicas: 1, planned: names(8),
    expect: { newMasters: [], finalMasters: [0, 1, 2, 6].map(name), attach: [{ replica: name(7), master: name(6) }] },
  },
  {
    name: "over-served masters give only their surplus, to the master below its share",
    current: lopsided, masters: 3, replicas: 0,
    expect: { moves: { "rc-0 -> rc-2": 1538, "rc-1 -> rc-2": 539 } },
  },
  {
    name: "a balanced cluster plans nothing",
    current: created(3, 1), masters: 3, replicas: 1,
    expect: { moves: {}, attach: [], failovers: [], drain: [], newMasters: [] },
  },
  {
    name: "3x1 -> 3x0 after a failover: the removed master's kept replica takes over its shard, nothing moves",
    current: failedOver, masters: 3, replicas: 0,
    expect: { failovers: [{ from: name(5), to: name(2) }], finalMasters: [0, 1, 2].map(name), drain: [], moves: {} },
  },
  {
    name: "3x2 -> 4x1 is refused: a replica would have to become an empty master",
    current: created(3, 2), masters: 4, replicas: 1,
    expect: { problem: /4 masters are planned but only 3 nodes can serve slots: a replica cannot become an empty master/ },
  },
];

describe("decideScaling", () => {
  for (const c of CASES) {
    it(c.name, () => {
      const planned = c.planned ?? names(c.masters * (1 + c.replicas));
      const d = decideScaling(c.current, planned, c.masters, c.replicas);
      const { moves, problem, ...fields } = c.expect;
      if (problem) {
        assert.ok(d.problems.some((p) => problem.test(p)), d.problems.join("\n"));
        return;
      }
      for (const [k, v] of Object.entries(fields)) assert.deepEqual(d[k as keyof typeof fields], v, k);
      if (moves) assert.deepEqual(Object.fromEntries(d.moves.map((m) => [`${m.from} -> ${m.to}`, m.slots.length])), moves);
      assertReachesPlan(c.current, planned, c.masters, c.replicas, d);
    });
  }

  it("drains come before the rebalance", () => {
    // rc-3 leaves without a replica to take over (drained), and rc-0 holds more than its share (rebalanced).
    const current: NodeState[] = [
      { name: name(0), role: "master", slots: range(0, 5999) },
      { name: name(1), role: "master", slots: range(6000, 9999) },
      { name: name(2), role: "master", slots: range(10000, 12287) },
      { name: name(3), role: "master", slots: range(12288, 16383) },
    ];
    const d = decideScaling(current, names(3), 3, 0);
    assert.deepEqual(d.drain, [name(3)]);
    const froms = d.moves.map((m) => m.from);
    assert.deepEqual(froms, [...froms].sort((a, b) => Number(a !== name(3)) - Number(b !== name(3))), JSON.stringify(froms));
    assert.ok(froms.includes(name(0)), "rc-0 gives its surplus");
    assertReachesPlan(current, names(3), 3, 0, d);
  });
});

describe("the plan checks themselves", () => {
  // Each doctored 3x1 -> 4x1 plan breaks one property; the checks above must refuse it.
  const planned = names(8);
  const good = () => decideScaling(created(3, 1), planned, 4, 1);
  const doctored: [string, (d: ScalingDecision) => void, RegExp][] = [
    ["a move left out: a master above its share", (d) => d.moves.pop(), /serves 5461 slots, fair is 4096/],
    ["a slot moved on by the master that received it", (d) => d.moves.push({ from: name(6), to: name(1), slots: [4096] }, { from: name(1), to: name(6), slots: [5461] }), /a master that gives also receives/],
    ["a move of slots its source does not own", (d) => (d.moves[0].slots[0] = 16383), /does not own/],
    ["a replica not attached", (d) => d.attach.pop(), /rc-7 follows undefined/],
  ];
  for (const [what, doctor, message] of doctored) {
    it(`refuse ${what}`, () => {
      assert.doesNotThrow(() => assertReachesPlan(created(3, 1), planned, 4, 1, good()));
      const d = good();
      doctor(d);
      assert.throws(() => assertReachesPlan(created(3, 1), planned, 4, 1, d), message);
    });
  }
});

describe("planSlotMoves", () => {
  it("the remainder of 16384 / n stays with the masters that hold most, so a balanced cluster moves nothing", () => {
    const owners = Object.fromEntries(createLayout(3).map((s, i) => [name(i), s]));
    assert.deepEqual(planSlotMoves(owners, [2, 1, 0].map(name)), []);
  });

  it("a master not among the final ones gives all its slots; over-served ones give their highest", () => {
    const moves = planSlotMoves({ a: range(0, 9999), b: range(10000, 16383), gone: [] }, ["a", "b"]);
    assert.deepEqual(moves.map((m) => [m.from, m.to, formatRanges(m.slots)]), [["a", "b", "8192-9999"]]);
    const drained = planSlotMoves({ a: range(0, 8191), b: range(8192, 12287), c: range(12288, 16383) }, ["a", "b"]);
    assert.deepEqual(drained.map((m) => [m.from, m.to, formatRanges(m.slots)]), [["c", "b", "12288-16383"]]);
  });

  it("no final master: nothing to plan", () => {
    assert.deepEqual(planSlotMoves({ a: range(0, 16383) }, []), []);
  });
});

describe("topologyProblem: fewer than 3 masters is refused", () => {
  const cases: { masters: number; replicasPerMaster: number; problem?: RegExp }[] = [
    { masters: 2, replicasPerMaster: 1, problem: /masters must be >= 3/ },
    { masters: 0, replicasPerMaster: 0, problem: /masters must be >= 3/ },
    { masters: 3.5, replicasPerMaster: 1, problem: /masters must be >= 3/ },
    { masters: 3, replicasPerMaster: -1, problem: /replicasPerMaster must be >= 0/ },
    { masters: 3, replicasPerMaster: 0 },
    { masters: 4, replicasPerMaster: 2 },
  ];
  for (const c of cases) {
    it(`${c.masters}x${c.replicasPerMaster}: ${c.problem ? "refused" : "accepted"}`, () => {
      const p = topologyProblem(c);
      if (c.problem) assert.match(p ?? "", c.problem);
      else assert.equal(p, undefined);
    });
  }
});

describe("slot ranges", () => {
  it("createLayout gives redis-cli's contiguous shares, each within one slot of 16384 / n", () => {
    assert.deepEqual(createLayout(3).map((s) => formatRanges(s)), ["0-5460", "5461-10922", "10923-16383"]);
    for (let n = 3; n <= 12; n++) {
      const layout = createLayout(n);
      assert.deepEqual(layout.flat(), range(0, SLOT_COUNT - 1), `${n} masters`);
      for (const s of layout) assert.ok(Math.abs(s.length - SLOT_COUNT / n) < 1, `${n} masters: a share of ${s.length}`);
    }
  });

  const tokens: { tokens: string[]; slots: number[]; text: string }[] = [
    { tokens: ["0-5460"], slots: range(0, 5460), text: "0-5460" },
    { tokens: ["5", "1-3", "9"], slots: [5, 1, 2, 3, 9], text: "1-3,5,9" },
    // CLUSTER NODES shows open slots as [slot->-id] / [slot-<-id]: markers, not owned slots.
    { tokens: ["0-10", "[11->-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]", "[12-<-e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca]"], slots: range(0, 10), text: "0-10" },
    { tokens: ["16383"], slots: [16383], text: "16383" },
    { tokens: [], slots: [], text: "" },
  ];
  for (const t of tokens) {
    it(`parseSlotTokens ${JSON.stringify(t.tokens)} and formatRanges round trip`, () => {
      const slots = parseSlotTokens(t.tokens);
      assert.deepEqual(slots, t.slots);
      assert.equal(formatRanges(slots), t.text);
      assert.deepEqual(parseSlotTokens(t.text ? t.text.split(",") : []), [...t.slots].sort((a, b) => a - b));
    });
  }

  it("formatRanges sorts, joins neighbours and shortens past `max` ranges", () => {
    assert.equal(formatRanges([9, 3, 1, 2]), "1-3,9");
    const every = range(0, 20).filter((x) => x % 2 === 0);
    assert.equal(formatRanges(every, 3), "0,2,4,… (11 ranges)");
    assert.deepEqual(toRanges(every).length, 11);
  });

  it("a layout survives the stack state: fromLayout(toLayout(state)) is the state", () => {
    for (const state of [created(3, 1), failedOver, lopsided]) {
      const back = fromLayout(toLayout(state)).map((n) => (n.role === "master" ? { name: n.name, role: n.role, slots: n.slots } : n));
      assert.deepEqual(back, state.map((n) => (n.role === "master" ? { name: n.name, role: n.role, slots: n.slots } : n)));
    }
  });
});

describe("describeDecision and the preview", () => {
  it("prints the runbook's 3x1 -> 4x1 example", () => {
    const d = decideScaling(created(3, 1), names(8), 4, 1);
    assert.deepEqual(describeDecision(d), [
      "add 2 node(s): rc-6 (master), rc-7 (replica)",
      "replicate: rc-7 -> rc-6",
      "move 4096 slots:",
      "  1365 slots rc-0 -> rc-6: 4096-5460",
      "  1366 slots rc-1 -> rc-6: 9557-10922",
      "  1365 slots rc-2 -> rc-6: 15019-16383",
    ]);
  });

  it("prints failovers, demotions, removals and problems; an empty decision is 'no change'", () => {
    assert.deepEqual(describeDecision(decideScaling(created(3, 1), names(6), 3, 1)), ["no change"]);
    const scaleIn = describeDecision(decideScaling(created(4, 1), names(6), 3, 1));
    assert.ok(scaleIn.includes("make replicas of emptied masters: rc-3"), scaleIn.join("\n"));
    assert.ok(scaleIn.includes("forget on every node, then remove: rc-6, rc-7"), scaleIn.join("\n"));
    // The order the scale step runs: the drain (its replica still attached), then re-attachments, forgetting last.
    const at = (prefix: string) => scaleIn.findIndex((l) => l.startsWith(prefix));
    assert.equal(scaleIn[0], "move 4096 slots: emptying rc-3 (its replicas stay until it is empty)");
    assert.ok(at("move") < at("make replicas") && at("make replicas") < at("replicate:") && at("replicate:") < at("forget"), scaleIn.join("\n"));
    assert.ok(describeDecision(decideScaling(failedOver, names(3), 3, 0)).includes("fail over rc-5 to its replica rc-2"));
    assert.ok(describeDecision(decideScaling(created(3, 2), names(8), 4, 1)).some((l) => l.startsWith("PROBLEM: 4 masters are planned")));
  });

  it("previews chain through the recorded layout: 3x1 -> 4x1 -> 3x1 ends fair, the new master drained", () => {
    const t = (masters: number, replicasPerMaster: number) => ({ masters, replicasPerMaster, nodes: names(masters * (1 + replicasPerMaster)) });
    const first = previewScaling(undefined, t(3, 1));
    assert.deepEqual(first.lines, ["create 3 masters x 1 replicas (bootstrap)"]);
    assert.deepEqual(previewScaling({ ...t(3, 1), layout: first.layout }, t(3, 1)).lines, ["no change"]);
    const out = previewScaling({ ...t(3, 1), layout: first.layout }, t(4, 1));
    assert.match(out.lines[0], /^scale 3x1 -> 4x1 /);
    assert.deepEqual(fromLayout(out.layout).filter((n) => n.role === "master").map((n) => [n.name, n.slots.length]), [[name(0), 4096], [name(1), 4096], [name(2), 4096], [name(6), 4096]]);
    const back = previewScaling({ ...t(4, 1), layout: out.layout }, t(3, 1));
    assert.ok(back.lines.includes("  1366 slots rc-6 -> rc-0: 4096-5460,9557"), back.lines.join("\n"));
    assert.ok(back.lines.includes("forget on every node, then remove: rc-6, rc-7"), back.lines.join("\n"));
    const masters = fromLayout(back.layout).filter((n) => n.role === "master");
    assert.deepEqual(masters.map((n) => [n.name, n.slots.length]), [[name(0), 5462], [name(1), 5461], [name(2), 5461]]);
  });

  it("scalePreview: the lines and the topology to record; what cannot be reached is a problem naming the settings", () => {
    const t = (masters: number, replicasPerMaster: number) => ({ masters, replicasPerMaster, nodes: names(masters * (1 + replicasPerMaster)) });
    const first = scalePreview(undefined, t(3, 1));
    assert.ok("lines" in first);
    assert.deepEqual(first.lines, ["create 3 masters x 1 replicas (bootstrap)"]);
    assert.deepEqual({ ...first.topology, layout: undefined }, { ...t(3, 1), layout: undefined });
    const out = scalePreview(first.topology, t(4, 1));
    assert.ok("lines" in out);
    assert.match(out.lines.join("\n"), /move 4096 slots:[\s\S]*1365 slots rc-0 -> rc-6: 4096-5460/);
    // A stack last deployed without a layout (counts only): a balanced layout is assumed.
    const legacy = scalePreview(t(3, 1), t(4, 1));
    assert.ok("lines" in legacy);
    assert.deepEqual(legacy.lines, out.lines);
    const two = scalePreview(first.topology, t(2, 1));
    assert.ok("problem" in two);
    assert.match(two.problem, /redis-cluster:masters must be >= 3/);
    // 3x2 -> 4x1: a fourth master would have to come from a replica (CLUSTER RESET): refused, saying how instead.
    const wide = scalePreview(undefined, t(3, 2));
    assert.ok("topology" in wide);
    const bad = scalePreview(wide.topology, t(4, 1));
    assert.ok("problem" in bad);
    assert.match(bad.problem, /^redis-cluster:masters \/ replicasPerMaster: cannot scale 3x2 -> 4x1: .*CLUSTER RESET/);
  });

  it("applyDecision records the state the decision leads to", () => {
    const current = created(4, 1);
    const d = decideScaling(current, names(6), 3, 1);
    const next = applyDecision(current, d, names(6));
    assert.deepEqual(next.filter((n) => n.role === "master").map((n) => n.name), [0, 1, 2].map(name));
    assert.deepEqual(next.find((n) => n.name === name(3)), { name: name(3), role: "replica", master: name(2), slots: [] });
    assert.equal(next.reduce((s, n) => s + n.slots.length, 0), SLOT_COUNT);
  });
});
