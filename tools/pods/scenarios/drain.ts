// Nodes drained one by one as `kubectl drain` does, through the runner's Eviction API (testbed/pods/eviction.ts), under
// the WAIT and plain writers: the prod PodDisruptionBudget (maxUnavailable 1) must refuse evictions while a pod is
// away, and the cluster must lose no WAIT-acknowledged write and end whole.
//
// One host is one node, so three nodes are pretended: ordinal i starts on node i % 3 (a master and its replica can
// share one, which is what the budget guards), and a pod created while a node is cordoned is scheduled to the
// uncordoned node with the fewest of the StatefulSet's pods (what its topology spread scores). Per node: cordon, evict
// every pod on it at once, retry a refused eviction every second (kubectl drain waits 5 s; shorter here to keep the
// scenario short), bounded by kubectl's --timeout, wait until the node's pods are gone, uncordon.
import { sleep } from "../../../smoke/time";
import { evict } from "../../../testbed/pods/eviction";
import type { Pod } from "../../../testbed/pods/pod";
import { STS, type ProdCluster } from "./cluster";
import { writesHeld, type Row } from "./report";
import { AckedWriters } from "./writers";

const NODES = 3;
const RETRY_MS = 1000;
/** kubectl drain --timeout: the whole node, refused evictions included. */
const NODE_TIMEOUT_MS = 300_000;
const SAMPLE_MS = 200;

/** Which pretend node each pod object is on; a pod not yet placed is scheduled on the next sync(). */
class PretendNodes {
  private readonly placed = new Map<string, { pod: Pod; node: number }>();
  readonly cordoned = new Set<number>();

  constructor(private readonly c: ProdCluster) {
    c.pods().forEach((name, i) => {
      const pod = c.runner.pods.get(name);
      if (pod) this.placed.set(name, { pod, node: i % NODES });
    });
  }

  /** Places every pod created since the last call (a StatefulSet's replacement is a new pod object of the same name). */
  sync(): void {
    for (const name of this.c.pods()) {
      const pod = this.c.runner.pods.get(name);
      if (!pod || this.placed.get(name)?.pod === pod) continue;
      const load = (n: number) => this.podsOn(n).length;
      const free = [...Array(NODES).keys()].filter((n) => !this.cordoned.has(n));
      if (!free.length) throw new Error("every pretend node is cordoned");
      this.placed.set(name, { pod, node: free.reduce((a, b) => (load(b) < load(a) ? b : a)) });
    }
  }

  /** Pods (names) whose current object is on node n. */
  podsOn(n: number): string[] {
    return [...this.placed].filter(([name, x]) => x.node === n && this.c.runner.pods.get(name) === x.pod).map(([name]) => name);
  }

  layout(roles: Map<string, string>): string {
    this.sync();
    const short = (p: string) => `${p.replace(`${STS}-`, "")}${roles.get(p) ?? ""}`;
    return [...Array(NODES).keys()].map((n) => `node ${n}: ${this.podsOn(n).map(short).join(",") || "-"}`).join(", ");
  }
}

/** Every SAMPLE_MS: how many of the StatefulSet's pods are not Ready (absent counts), and keeps the nodes placing pods. */
class ReadinessSampler {
  samples = 0;
  maxNotReady = 0;
  /** Samples with more than one pod not Ready: time from the start and which. */
  readonly over: string[] = [];
  private stopped = false;
  private loop?: Promise<void>;

  constructor(private readonly c: ProdCluster, private readonly nodes: PretendNodes) {}

  start(t0: number): this {
    this.loop = (async () => {
      for (let i = 0; i < 100_000 && !this.stopped; i++) {
        this.nodes.sync();
        const down = this.c.pods().filter((p) => !this.c.runner.pods.get(p)?.ready);
        this.samples++;
        this.maxNotReady = Math.max(this.maxNotReady, down.length);
        if (down.length > 1) this.over.push(`${((Date.now() - t0) / 1000).toFixed(1)} s: ${down.map((p) => p.replace(`${STS}-`, "")).join(",")}`);
        await sleep(SAMPLE_MS);
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

interface DrainStats {
  evicted: { pod: string; node: number; rule?: string; preStop?: string }[];
  refused: number;
  refusedPods: Set<string>;
  firstRefusal?: string;
}

/** kubectl drain's eviction of one pod: retried every RETRY_MS while refused (429), until `deadline`; resolves once it is gone. */
async function evictPod(c: ProdCluster, pod: string, node: number, deadline: number, s: DrainStats): Promise<void> {
  for (let i = 0; i < NODE_TIMEOUT_MS / RETRY_MS && Date.now() < deadline; i++) {
    const old = c.runner.pods.get(pod);
    const r = evict(c.runner, pod);
    if (r.evicted) {
      await r.gone;
      s.evicted.push({ pod, node, rule: r.budget?.rule, preStop: old?.events.find((e) => e.what.startsWith("preStop"))?.what });
      return;
    }
    // Already gone: kubectl drain counts it as done.
    if (r.status === 404) return;
    if (r.status !== 429) throw new Error(`eviction of ${pod}: ${r.status} ${r.reason}`);
    s.refused++;
    s.refusedPods.add(pod);
    s.firstRefusal ??= `${pod.replace(`${STS}-`, "")}: ${r.reason}`;
    await sleep(RETRY_MS);
  }
  throw new Error(`eviction of ${pod} still refused after ${NODE_TIMEOUT_MS / 1000} s (kubectl drain --timeout)`);
}

/**
 * The drained node's maintenance: it stays cordoned until the replacements of its pods exist and are scheduled
 * elsewhere (uncordoning at once would let them land back on it, which a real drain's maintenance window prevents).
 */
async function maintenance(c: ProdCluster, nodes: PretendNodes, pods: string[], deadline: number): Promise<void> {
  for (let i = 0; i < NODE_TIMEOUT_MS / SAMPLE_MS && Date.now() < deadline; i++) {
    if (pods.every((p) => c.runner.pods.has(p))) return nodes.sync();
    await sleep(SAMPLE_MS);
  }
  throw new Error(`replacements of ${pods.join(", ")} not created before the drain's timeout`);
}

async function roles(c: ProdCluster): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const s of await c.shards().catch(() => [])) {
    out.set(s.master, "(m)");
    if (s.replica) out.set(s.replica, "(r)");
  }
  return out;
}

export async function drainNodes(c: ProdCluster): Promise<Row> {
  const nodes = new PretendNodes(c);
  const before = nodes.layout(await roles(c));
  const w = new AckedWriters(c, "drain").start();
  await sleep(2000);
  const t0 = Date.now();
  w.mark = t0;
  const sampler = new ReadinessSampler(c, nodes).start(t0);
  const s: DrainStats = { evicted: [], refused: 0, refusedPods: new Set() };
  const perNode: string[] = [];
  let error: string | undefined;
  try {
    for (let n = 0; n < NODES; n++) {
      const tn = Date.now();
      nodes.cordoned.add(n);
      nodes.sync();
      const pods = nodes.podsOn(n);
      // Every eviction ends (gone, or given up at the deadline) before the scenario goes on.
      const failed = (await Promise.allSettled(pods.map((p) => evictPod(c, p, n, tn + NODE_TIMEOUT_MS, s)))).find((r) => r.status === "rejected");
      if (failed) throw (failed as PromiseRejectedResult).reason;
      await maintenance(c, nodes, pods, tn + NODE_TIMEOUT_MS);
      nodes.cordoned.delete(n);
      perNode.push(`node ${n}: ${pods.map((p) => p.replace(`${STS}-`, "")).join(",")} in ${((Date.now() - tn) / 1000).toFixed(1)} s`);
    }
  } catch (e) {
    error = (e as Error).message;
  }
  const tEnd = Date.now();
  const drainMs = tEnd - t0;
  // Time to ok: from the end of the drain (the last node's pods gone, their replacements created) until every node's view is whole.
  await c.runner.waitReady(c.pods(), 300_000).catch(() => undefined);
  await sampler.stop();
  const ms = await c.waitWhole(120_000).then(() => Date.now() - tEnd).catch(() => undefined);
  await sleep(2000);
  await w.stop();
  const lost = await w.lost();
  const shards = await c.shards().catch(() => []);
  const paired = shards.filter((x) => x.replica).length;
  const slots = shards.reduce((a, x) => a + x.slotCount, 0);
  const whole = ms !== undefined && shards.length === 3 && paired === 3 && slots === 16384;
  const count = (rule?: string) => s.evicted.filter((e) => e.rule === rule).length;
  const rules = `${count("decremented")} used a disruption, ${count("unhealthy")} of a not-Ready pod, ${count("ignored")} of a pod the budget ignores, ${count(undefined)} under no budget`;
  const handedOver = s.evicted.filter((e) => /handing over/.test(e.preStop ?? "")).length;
  return {
    scenario: "drain 3 pretend nodes one by one (cordon, evict all of a node's pods at once, retry refused every 1 s, uncordon), PodDisruptionBudget maxUnavailable 1, WAIT writer",
    expected: "evictions refused by the budget while a pod is away (at least once); never more than 1 pod not Ready; 0 WAIT-acknowledged writes lost or unreadable; whole at the end: 3 masters each with a replica, every slot",
    observed:
      `${error ? `drain stopped: ${error}; ` : ""}${s.evicted.length} evictions in ${(drainMs / 1000).toFixed(0)} s (${rules}; ${perNode.join("; ")}); ` +
      `${s.refused} refused by the budget (pods ${[...s.refusedPods].map((p) => p.replace(`${STS}-`, "")).join(",") || "none"}); ` +
      `at most ${sampler.maxNotReady} pod(s) not Ready in ${sampler.samples} samples${sampler.over.length ? ` (more than 1 at ${sampler.over.slice(0, 5).join("; ")})` : ""}; ` +
      `preStop ran on ${s.evicted.filter((e) => e.preStop).length}/${s.evicted.length} (${handedOver} masters handed over); ${w.errors} write errors; ` +
      `${ms !== undefined ? "whole" : "NOT whole"}: ${shards.length} masters, ${paired} with a replica, ${slots} slots`,
    pass: !error && s.refused > 0 && sampler.maxNotReady <= 1 && writesHeld(lost) && whole,
    timeToOkMs: ms,
    lost,
    notes: [
      `first refusal ${s.firstRefusal ?? "none"}`,
      `before: ${before}`,
      `after: ${nodes.layout(await roles(c))}`,
      `writes: ${w.describeLost()}`,
      ...(w.errors ? [`write errors: ${w.describeErrors()}`] : []),
    ],
  };
}
