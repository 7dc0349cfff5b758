// The Eviction API's arithmetic (testbed/pods/eviction.ts): a PodDisruptionBudget's status from its spec, the
// controller's replicas and the pods' health, and the verdict for one pod. Pure checks: nothing is started (the drain
// scenario, `npm run pods:scenarios -- --only drain`, evicts the prod pods for real).
import { test } from "node:test";
import assert from "node:assert/strict";
import { budgetStatus, evict, evictionVerdict, scaledValue, type BudgetPod, type BudgetSpec, type BudgetStatus, type EvictablePod, type EvictionHost } from "../../../testbed/pods/eviction";
import type { Obj } from "../../../testbed/pods/spec";

/** `n` pods; the listed indexes not Ready, being deleted or disrupted. */
function pods(n: number, opts: { notReady?: number[]; deleting?: number[]; disrupted?: number[] } = {}): BudgetPod[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `p-${i}`,
    phase: "Running",
    ready: !opts.notReady?.includes(i),
    deleting: !!opts.deleting?.includes(i),
    disrupted: !!opts.disrupted?.includes(i),
  }));
}

interface Case {
  what: string;
  spec: BudgetSpec;
  replicas: number;
  pods: BudgetPod[];
  status: BudgetStatus;
}

const CASES: Case[] = [
  { what: "maxUnavailable 1, all healthy", spec: { maxUnavailable: 1 }, replicas: 6, pods: pods(6), status: { expectedPods: 6, desiredHealthy: 5, currentHealthy: 6, disruptionsAllowed: 1 } },
  { what: "maxUnavailable 1, one not Ready", spec: { maxUnavailable: 1 }, replicas: 6, pods: pods(6, { notReady: [2] }), status: { expectedPods: 6, desiredHealthy: 5, currentHealthy: 5, disruptionsAllowed: 0 } },
  { what: "maxUnavailable 1, one pod missing", spec: { maxUnavailable: 1 }, replicas: 6, pods: pods(5), status: { expectedPods: 6, desiredHealthy: 5, currentHealthy: 5, disruptionsAllowed: 0 } },
  { what: "maxUnavailable 1, one disrupted (Ready, deletion not observed)", spec: { maxUnavailable: 1 }, replicas: 6, pods: pods(6, { disrupted: [0] }), status: { expectedPods: 6, desiredHealthy: 5, currentHealthy: 5, disruptionsAllowed: 0 } },
  { what: "maxUnavailable 1, one being deleted", spec: { maxUnavailable: 1 }, replicas: 6, pods: pods(6, { deleting: [4] }), status: { expectedPods: 6, desiredHealthy: 5, currentHealthy: 5, disruptionsAllowed: 0 } },
  // 25% of 6 = 1.5, rounded up to 2.
  { what: "maxUnavailable 25% rounds up", spec: { maxUnavailable: "25%" }, replicas: 6, pods: pods(6), status: { expectedPods: 6, desiredHealthy: 4, currentHealthy: 6, disruptionsAllowed: 2 } },
  { what: "maxUnavailable 25%, one disrupted", spec: { maxUnavailable: "25%" }, replicas: 6, pods: pods(6, { disrupted: [1] }), status: { expectedPods: 6, desiredHealthy: 4, currentHealthy: 5, disruptionsAllowed: 1 } },
  { what: "maxUnavailable larger than replicas", spec: { maxUnavailable: 9 }, replicas: 6, pods: pods(6), status: { expectedPods: 6, desiredHealthy: 0, currentHealthy: 6, disruptionsAllowed: 6 } },
  { what: "maxUnavailable 0 allows nothing", spec: { maxUnavailable: 0 }, replicas: 6, pods: pods(6), status: { expectedPods: 6, desiredHealthy: 6, currentHealthy: 6, disruptionsAllowed: 0 } },
  // minAvailable as an integer expects the pods that exist, not the replicas.
  { what: "minAvailable 5, 6 healthy", spec: { minAvailable: 5 }, replicas: 6, pods: pods(6), status: { expectedPods: 6, desiredHealthy: 5, currentHealthy: 6, disruptionsAllowed: 1 } },
  { what: "minAvailable 5, 5 pods exist", spec: { minAvailable: 5 }, replicas: 6, pods: pods(5), status: { expectedPods: 5, desiredHealthy: 5, currentHealthy: 5, disruptionsAllowed: 0 } },
  { what: "minAvailable 5, two not Ready", spec: { minAvailable: 5 }, replicas: 6, pods: pods(6, { notReady: [0, 3] }), status: { expectedPods: 6, desiredHealthy: 5, currentHealthy: 4, disruptionsAllowed: 0 } },
  { what: "minAvailable 50% of 6", spec: { minAvailable: "50%" }, replicas: 6, pods: pods(6), status: { expectedPods: 6, desiredHealthy: 3, currentHealthy: 6, disruptionsAllowed: 3 } },
  // 50% of 5 = 2.5, rounded up to 3; the percentage is of the replicas even with a pod missing.
  { what: "minAvailable 50% of 5 rounds up", spec: { minAvailable: "50%" }, replicas: 5, pods: pods(4), status: { expectedPods: 5, desiredHealthy: 3, currentHealthy: 4, disruptionsAllowed: 1 } },
  { what: "nothing expected allows nothing", spec: { maxUnavailable: 1 }, replicas: 0, pods: [], status: { expectedPods: 0, desiredHealthy: 0, currentHealthy: 0, disruptionsAllowed: 0 } },
];

for (const c of CASES) {
  test(`budget status: ${c.what}`, () => assert.deepEqual(budgetStatus(c.spec, c.replicas, c.pods), c.status));
}

test("percentages must be N%; integers non-negative", () => {
  assert.equal(scaledValue("34%", 3, "maxUnavailable"), 2);
  assert.equal(scaledValue("0%", 6, "maxUnavailable"), 0);
  assert.throws(() => scaledValue("1", 6, "maxUnavailable"), /maxUnavailable "1": a string must be a percentage/);
  assert.throws(() => scaledValue(-1, 6, "minAvailable"), /minAvailable -1/);
});

const running = { phase: "Running", ready: true, deleting: false } as const;
const status = (currentHealthy: number, desiredHealthy: number): BudgetStatus => ({ expectedPods: 6, desiredHealthy, currentHealthy, disruptionsAllowed: Math.max(0, currentHealthy - desiredHealthy) });

const VERDICTS: [string, BudgetStatus, Pick<BudgetPod, "phase" | "ready" | "deleting">, ReturnType<typeof evictionVerdict>][] = [
  ["a Ready pod with a disruption allowed", status(6, 5), running, { allowed: true, budget: "decremented" }],
  ["a Ready pod with none allowed", status(5, 5), running, {
    allowed: false,
    status: 429,
    reason: "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget redis-node needs 5 healthy pods and has 5 currently",
  }],
  // The other five healthy meet the budget: the not-Ready pod may go (IfHealthyBudget) without using a disruption.
  ["a not-Ready pod while the others meet the budget", status(5, 5), { ...running, ready: false }, { allowed: true, budget: "unhealthy" }],
  ["a not-Ready pod while the budget is short", status(4, 5), { ...running, ready: false }, {
    allowed: false,
    status: 429,
    reason: "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget redis-node needs 5 healthy pods and has 4 currently",
  }],
  // desiredHealthy 0: the unhealthy rule does not apply, and no healthy pod means no disruption allowed.
  ["a not-Ready pod when nothing is desired and nothing healthy", status(0, 0), { ...running, ready: false }, {
    allowed: false,
    status: 429,
    reason: "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget redis-node needs 0 healthy pods and has 0 currently",
  }],
  ["a Pending pod ignores the budget", status(4, 5), { phase: "Pending", ready: false, deleting: false }, { allowed: true, budget: "ignored" }],
  ["a Failed pod ignores the budget", status(4, 5), { phase: "Failed", ready: false, deleting: false }, { allowed: true, budget: "ignored" }],
  ["a pod being deleted ignores the budget", status(4, 5), { ...running, ready: false, deleting: true }, { allowed: true, budget: "ignored" }],
];

for (const [what, s, pod, verdict] of VERDICTS) {
  test(`eviction verdict: ${what}`, () => assert.deepEqual(evictionVerdict("redis-node", s, pod), verdict));
}

/** A runner stand-in: its pods are plain objects, a deletion marks the pod deleting and removes it at once. */
function host(n: number, budget: Obj | undefined, extra: [string, Obj][] = []): EvictionHost & { deleted: string[] } {
  const labels = { app: "redis" };
  const podMap = new Map<string, EvictablePod>(
    Array.from({ length: n }, (_, i) => [`r-${i}`, { name: `r-${i}`, namespace: "ns", labels, phase: "Running", ready: true, deleting: false }]),
  );
  const objects = new Map<string, Obj>([
    ["StatefulSet/ns/r", { metadata: { name: "r" }, spec: { replicas: n, template: { metadata: { labels } } } }],
    ...(budget ? [["PodDisruptionBudget/ns/redis-node", budget] as [string, Obj]] : []),
    ...extra,
  ]);
  const deleted: string[] = [];
  return {
    objects,
    pods: podMap,
    deleted,
    mark: () => undefined,
    deletePod: async (name) => {
      const p = podMap.get(name);
      if (p) (p as { deleting: boolean }).deleting = true;
      deleted.push(name);
    },
  };
}

const pdb = (spec: Obj): Obj => ({ metadata: { name: "redis-node" }, spec: { selector: { matchLabels: { app: "redis" } }, ...spec } });

test("evict: with maxUnavailable 1, the first of two evictions passes and the second is refused naming the budget", async () => {
  const h = host(6, pdb({ maxUnavailable: 1 }));
  const a = evict(h, "r-0");
  const b = evict(h, "r-3");
  assert.deepEqual(a.evicted && a.budget, { name: "redis-node", rule: "decremented" });
  assert.deepEqual(b, {
    evicted: false,
    pod: "r-3",
    status: 429,
    reason: "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget redis-node needs 5 healthy pods and has 5 currently",
  });
  assert.deepEqual(h.deleted, ["r-0"]);
});

test("evict: a disrupted pod still Ready (deletion not yet observed) counts against the budget until it is gone", () => {
  const h = host(6, pdb({ maxUnavailable: 1 }));
  // A deletion that has not started: the pod stays Ready, as on an API server before the controller sees it.
  h.deletePod = async (name) => void h.deleted.push(name);
  assert.equal(evict(h, "r-0").evicted, true);
  assert.equal(evict(h, "r-1").evicted, false);
  // Gone, its replacement (a new object of the same name) Ready: a disruption is allowed again.
  h.pods.set("r-0", { name: "r-0", namespace: "ns", labels: { app: "redis" }, phase: "Running", ready: true, deleting: false });
  assert.equal(evict(h, "r-1").evicted, true);
  assert.deepEqual(h.deleted, ["r-0", "r-1"]);
});

test("evict: a not-Ready pod goes while the others meet the budget, without using its disruption; then a Ready one is refused", () => {
  const h = host(6, pdb({ maxUnavailable: 1 }));
  (h.pods.get("r-2") as { ready: boolean }).ready = false;
  const r = evict(h, "r-2");
  assert.deepEqual(r.evicted && r.budget, { name: "redis-node", rule: "unhealthy" });
  // r-2 is still away (being deleted): the five others are exactly what the budget needs.
  assert.equal(evict(h, "r-0").evicted, false);
});

test("evict: no budget deletes; a missing pod is 404; two budgets are refused; a budget over Deployment pods is refused", () => {
  assert.equal(evict(host(2, undefined), "r-0").evicted, true);
  const missing = evict(host(2, undefined), "r-9");
  assert.equal(!missing.evicted && missing.status, 404);
  const two = host(6, pdb({ maxUnavailable: 1 }), [["PodDisruptionBudget/ns/other", pdb({ minAvailable: 1 })]]);
  const r = evict(two, "r-0");
  assert.equal(!r.evicted && r.status, 500);
  assert.match(!r.evicted ? r.reason : "", /more than one PodDisruptionBudget.*redis-node, other/);
  const dep = host(6, pdb({ maxUnavailable: 1 }), [["Deployment/ns/d", { metadata: { name: "d" }, spec: { template: { metadata: { labels: { app: "redis" } } } } }]]);
  assert.throws(() => evict(dep, "r-0"), /selects Deployment d's pods: eviction of Deployment pods is not emulated/);
});
