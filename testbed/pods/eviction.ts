// The Eviction API of the pods runner: what a POST to a pod's `pods/eviction` subresource does on the API server, with
// the PodDisruptionBudget status the disruption controller would compute. `kubectl drain` evicts through it: an
// eviction that would leave a budget short is refused (429) and the pod stays; an allowed one deletes the pod
// gracefully (preStop, terminationGracePeriodSeconds), and its controller recreates it.
//
// What it does as Kubernetes (policy/v1; the eviction REST handler and the disruption controller):
// - a pod that is Pending, Succeeded, Failed or already being deleted is deleted regardless of any budget;
// - no budget selects the pod: deleted; more than one: refused (500), the eviction API does not support it;
// - expected pods: the replicas of the StatefulSets whose pods the selector selects (minAvailable as an integer: the
//   number of selected pods); healthy: selected pods Ready, not being deleted and not disrupted;
// - desiredHealthy: expected − maxUnavailable, or minAvailable; a percentage of expected, rounded up, either way;
//   disruptionsAllowed = healthy − desiredHealthy (0 when negative or nothing is expected);
// - a pod that is not Ready goes without using the budget when healthy ≥ desiredHealthy > 0 (unhealthyPodEvictionPolicy
//   IfHealthyBudget, the default; the object check refuses the field, so AlwaysAllow cannot be set);
// - otherwise disruptionsAllowed 0 refuses it (429, the API server's message naming the budget and its numbers), else
//   the pod is recorded as disrupted (the budget's status.disruptedPods) and deleted.
// Different here: the status is computed at each eviction from the pods as they are (the real controller updates it
// asynchronously), and decision and record are one synchronous step, so parallel evictions cannot both pass on one
// budget (the API server gets that from the budget's resourceVersion). A disrupted pod stays recorded until it is gone
// from the runner: kept by the pod object, not its name, since a StatefulSet's replacement has the same name.
// Deployment pods under a budget are not emulated (refused).
import { Unemulated } from "../refuse";
import { selects, type Obj } from "./spec";

/** Whether a budget counts a pod (and whether the eviction may ignore budgets: Pending, terminal or being deleted). */
export interface BudgetPod {
  name: string;
  phase: "Pending" | "Running" | "Succeeded" | "Failed";
  ready: boolean;
  deleting: boolean;
  /** Evicted and still in the budget's disruptedPods. */
  disrupted: boolean;
}

export interface BudgetSpec {
  minAvailable?: number | string;
  maxUnavailable?: number | string;
}

/** policy/v1 PodDisruptionBudgetStatus as the disruption controller computes it. */
export interface BudgetStatus {
  expectedPods: number;
  desiredHealthy: number;
  currentHealthy: number;
  disruptionsAllowed: number;
}

export type EvictionResult =
  | {
      evicted: true;
      pod: string;
      /** The budget and how it let the pod go: a disruption used, a not-Ready pod, or a pod it ignores. */
      budget?: { name: string; rule: "decremented" | "unhealthy" | "ignored" };
      gone: Promise<void>;
    }
  | { evicted: false; pod: string; status: 404 | 429 | 500; reason: string };

/** An int-or-string of a budget: an integer, or "N%" of `total` rounded up (intstr.GetScaledValueFromIntOrPercent). */
export function scaledValue(v: number | string, total: number, field: string): number {
  if (typeof v === "number") {
    if (!Number.isInteger(v) || v < 0) throw new Error(`PodDisruptionBudget ${field} ${v}: not a non-negative integer`);
    return v;
  }
  const m = /^(\d+)%$/.exec(v);
  if (!m) throw new Error(`PodDisruptionBudget ${field} "${v}": a string must be a percentage ("25%")`);
  return Math.ceil((Number(m[1]) * total) / 100);
}

/** The budget's status: `replicas` is what the selected pods' controllers want, `pods` the selected pods there are. */
export function budgetStatus(spec: BudgetSpec, replicas: number, pods: BudgetPod[]): BudgetStatus {
  let expectedPods: number;
  let desiredHealthy: number;
  if (spec.maxUnavailable !== undefined) {
    expectedPods = replicas;
    desiredHealthy = Math.max(0, expectedPods - scaledValue(spec.maxUnavailable, expectedPods, "maxUnavailable"));
  } else if (typeof spec.minAvailable === "number") {
    expectedPods = pods.length;
    desiredHealthy = scaledValue(spec.minAvailable, expectedPods, "minAvailable");
  } else if (spec.minAvailable !== undefined) {
    expectedPods = replicas;
    desiredHealthy = scaledValue(spec.minAvailable, expectedPods, "minAvailable");
  } else {
    throw new Error("PodDisruptionBudget: neither minAvailable nor maxUnavailable");
  }
  const currentHealthy = pods.filter((p) => p.ready && !p.deleting && !p.disrupted).length;
  const allowed = currentHealthy - desiredHealthy;
  return { expectedPods, desiredHealthy, currentHealthy, disruptionsAllowed: expectedPods <= 0 || allowed <= 0 ? 0 : allowed };
}

export type Verdict =
  | { allowed: true; budget: "ignored" | "unhealthy" | "decremented" }
  | { allowed: false; status: 429; reason: string };

/** The eviction handler's decision for `pod` under the budget `name` with `status` (one budget selects the pod). */
export function evictionVerdict(name: string, status: BudgetStatus, pod: Pick<BudgetPod, "phase" | "ready" | "deleting">): Verdict {
  if (pod.phase !== "Running" || pod.deleting) return { allowed: true, budget: "ignored" };
  if (!pod.ready && status.currentHealthy >= status.desiredHealthy && status.desiredHealthy > 0) return { allowed: true, budget: "unhealthy" };
  if (status.disruptionsAllowed > 0) return { allowed: true, budget: "decremented" };
  return {
    allowed: false,
    status: 429,
    reason: `Cannot evict pod as it would violate the pod's disruption budget. The disruption budget ${name} needs ${status.desiredHealthy} healthy pods and has ${status.currentHealthy} currently`,
  };
}

/** A pod as the Eviction API sees it (the runner's Pod). */
export interface EvictablePod {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  readonly phase: BudgetPod["phase"];
  readonly ready: boolean;
  readonly deleting: boolean;
}

/** What the Eviction API uses of the runner (PodsRunner). */
export interface EvictionHost {
  readonly objects: Map<string, Obj>;
  /** The StatefulSets' pods by name. */
  readonly pods: Map<string, EvictablePod>;
  deletePod(name: string, mode: "graceful"): Promise<void>;
  mark(kind: "pod", name: string, what: string): void;
}

/** Each runner's disrupted pods (status.disruptedPods of every budget): evicted pod objects not yet gone. */
const ledgers = new WeakMap<EvictionHost, Set<EvictablePod>>();

function ledgerOf(host: EvictionHost): Set<EvictablePod> {
  let l = ledgers.get(host);
  if (!l) ledgers.set(host, (l = new Set()));
  // The deletion is observed once the pod object is no longer the runner's pod of that name.
  for (const p of l) if (host.pods.get(p.name) !== p) l.delete(p);
  return l;
}

/** The budgets of the pod's namespace that select it, with their name. */
function budgetsOf(host: EvictionHost, pod: EvictablePod): { name: string; obj: Obj }[] {
  const prefix = `PodDisruptionBudget/${pod.namespace}/`;
  return [...host.objects]
    .filter(([k, o]) => k.startsWith(prefix) && selects(o.spec?.selector?.matchLabels, pod.labels))
    .map(([k, obj]) => ({ name: k.slice(prefix.length), obj }));
}

/** Replicas of the controllers whose pods the selector selects; Deployment pods under a budget are refused. */
function expectedReplicas(host: EvictionHost, ns: string, name: string, matchLabels: Record<string, string>): number {
  let replicas = 0;
  for (const [k, o] of host.objects) {
    const [kind, objNs] = k.split("/");
    if (objNs !== ns || !selects(matchLabels, o.spec?.template?.metadata?.labels ?? {})) continue;
    if (kind === "StatefulSet") replicas += o.spec.replicas ?? 1;
    else if (kind === "Deployment") throw new Unemulated(`pods runner: PodDisruptionBudget ${ns}/${name} selects Deployment ${o.metadata?.name}'s pods: eviction of Deployment pods is not emulated`);
  }
  return replicas;
}

/**
 * POST pods/<name>/eviction: refused (429) while the pod's budget allows no disruption, else the pod is deleted
 * gracefully; `gone` resolves when it is. Decision and record happen with no await in between.
 */
export function evict(host: EvictionHost, podName: string): EvictionResult {
  const pod = host.pods.get(podName);
  if (!pod) return { evicted: false, pod: podName, status: 404, reason: `pods "${podName}" not found` };
  const ledger = ledgerOf(host);
  const budgets = budgetsOf(host, pod);
  if (budgets.length > 1) {
    return { evicted: false, pod: podName, status: 500, reason: `This pod has more than one PodDisruptionBudget, which the eviction subresource does not support (${budgets.map((b) => b.name).join(", ")})` };
  }
  const budget = budgets[0];
  let rule: "decremented" | "unhealthy" | "ignored" = "ignored";
  if (budget) {
    const matchLabels = budget.obj.spec.selector.matchLabels;
    const selected = [...host.pods.values()].filter((p) => p.namespace === pod.namespace && selects(matchLabels, p.labels));
    const status = budgetStatus(
      budget.obj.spec,
      expectedReplicas(host, pod.namespace, budget.name, matchLabels),
      selected.map((p) => ({ name: p.name, phase: p.phase, ready: p.ready, deleting: p.deleting, disrupted: ledger.has(p) })),
    );
    const v = evictionVerdict(budget.name, status, pod);
    if (!v.allowed) {
      host.mark("pod", podName, `eviction refused: ${budget.name} healthy ${status.currentHealthy}, desired ${status.desiredHealthy}`);
      return { evicted: false, pod: podName, status: v.status, reason: v.reason };
    }
    rule = v.budget;
    if (rule === "decremented") ledger.add(pod);
  }
  host.mark("pod", podName, `evicted${budget ? ` (${budget.name}: ${rule})` : ""}`);
  return { evicted: true, pod: podName, ...(budget ? { budget: { name: budget.name, rule } } : {}), gone: host.deletePod(podName, "graceful") };
}
