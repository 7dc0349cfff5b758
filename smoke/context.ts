// State shared by the checks of one smoke run: connections, discovered nodes, topology, cancellation.
import type { Cluster, Redis } from "ioredis";
import { clusterClient, errorText, NodePool } from "./clients";
import {
  isMaster, isMyself, isReplica, nodeLabel, parseClusterNodes, parseInfo, SLOT_COUNT, type NodeLine,
} from "./topology";
import type { SmokeOptions } from "./types";

export interface NodeSnapshot {
  /** Announced address (key of the pool). */
  addr: string;
  label: string;
  id?: string;
  lines?: NodeLine[];
  info?: Record<string, string>;
  error?: string;
}

export interface MasterInfo {
  id: string;
  addr: string;
  label: string;
  slots: [number, number][];
  replicas: { id: string; addr: string; label: string }[];
}

export interface Topology {
  masters: MasterInfo[];
  /** slot -> owner address (announced). */
  ownerBySlot: string[];
}

export class Aborted extends Error {}

/** State shared by every check of one run (the per-check contexts read and write it through accessors). */
interface SharedState {
  runId: string;
  pool: NodePool;
  nodes: string[];
  down: Set<string>;
  ids: Map<string, string>;
  /** What the nodes give clients, learned by the connect check. */
  endpoint: "ip" | "hostname";
  topology?: Topology;
  nodeTimeoutMs: number;
  benchClient?: Cluster;
  dataClient?: Cluster;
  clients: Cluster[];
  closed: boolean;
}

/**
 * One smoke run's context. `forCheck(signal)` gives each check its own context bound to that check's AbortSignal:
 * checkpoint/sleep/waitFor of a check that timed out keep failing even while later checks run (they never read
 * another check's signal), and nothing new is connected after close().
 */
export class SmokeContext {
  private readonly s: SharedState;
  /** Aborted when this check timed out or ended (never aborted for the run-level context). */
  readonly signal: AbortSignal;
  /** What the current check is doing (named in timeout messages). */
  step = "";

  constructor(
    readonly opts: SmokeOptions,
    private readonly progress: (line: string) => void,
    signal?: AbortSignal,
    shared?: SharedState,
  ) {
    this.signal = signal ?? new AbortController().signal;
    this.s = shared ?? {
      runId: `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`,
      pool: new NodePool(opts.password, { ...(opts.natMap ?? {}) }, opts.connectTimeoutMs, undefined, opts.tls, opts.username),
      nodes: [],
      down: new Set(),
      ids: new Map(),
      endpoint: "ip",
      nodeTimeoutMs: opts.nodeTimeoutMs ?? 5000,
      clients: [],
      closed: false,
    };
  }

  /** A context for one check: same shared state, its own signal and step. */
  forCheck(signal: AbortSignal): SmokeContext {
    return new SmokeContext(this.opts, this.progress, signal, this.s);
  }

  get runId(): string {
    return this.s.runId;
  }
  get pool(): NodePool {
    return this.s.pool;
  }
  /** Announced addresses of every node found at discovery. */
  get nodes(): string[] {
    return this.s.nodes;
  }
  set nodes(v: string[]) {
    this.s.nodes = v;
  }
  /** Nodes found unreachable by the connect check: reported, not waited for again. */
  get down(): Set<string> {
    return this.s.down;
  }
  /** What the nodes give clients (cluster-preferred-endpoint-type): addresses are hostnames with "hostname". */
  get endpoint(): "ip" | "hostname" {
    return this.s.endpoint;
  }
  set endpoint(v: "ip" | "hostname") {
    this.s.endpoint = v;
  }
  /** Node id -> announced address (as learned). */
  get ids(): Map<string, string> {
    return this.s.ids;
  }
  get topology(): Topology | undefined {
    return this.s.topology;
  }
  set topology(t: Topology | undefined) {
    this.s.topology = t;
  }
  get nodeTimeoutMs(): number {
    return this.s.nodeTimeoutMs;
  }
  set nodeTimeoutMs(v: number) {
    this.s.nodeTimeoutMs = v;
  }
  /** Cluster client of the benchmark check. */
  get benchClient(): Cluster | undefined {
    return this.s.benchClient;
  }
  set benchClient(c: Cluster | undefined) {
    this.s.benchClient = c;
  }

  log(msg: string): void {
    this.progress(msg);
  }

  setStep(step: string, print = false): void {
    this.step = step;
    if (print) this.log(step);
  }

  /** Throws Aborted once this check's signal is aborted (or the run is closed). */
  checkpoint(): void {
    if (this.signal.aborted || this.s.closed) throw new Aborted(this.step);
  }

  sleep(ms: number): Promise<void> {
    this.checkpoint();
    const signal = this.signal;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(t);
        reject(new Aborted(this.step));
      };
      const t = setTimeout(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Polls `probe` until it returns a value (not undefined) or `timeoutMs` passes; bounded in time and count. */
  async waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, intervalMs = 100): Promise<{ value?: T; ms: number; last?: string }> {
    const t0 = Date.now();
    let last: string | undefined;
    const maxAttempts = Math.ceil(timeoutMs / intervalMs) + 10;
    for (let i = 0; i < maxAttempts && Date.now() - t0 <= timeoutMs; i++) {
      this.checkpoint();
      this.step = what;
      try {
        const v = await probe();
        if (v !== undefined) return { value: v, ms: Date.now() - t0 };
      } catch (e) {
        if (e instanceof Aborted) throw e;
        last = errorText(e);
      }
      await this.sleep(intervalMs);
    }
    this.checkpoint();
    return { ms: Date.now() - t0, last };
  }

  label(addr: string): string {
    const id = [...this.ids.entries()].find(([, a]) => a === addr)?.[0];
    return nodeLabel(addr, id);
  }

  /**
   * Runs `probe` on every node at once over a connection without a password (closed afterwards) and returns the
   * problems the probes report, plus one for each node the connect check found down (ending in `notChecked`) or that
   * refused the connection.
   */
  async eachNodeUnauthenticated(notChecked: string, probe: (r: Redis, label: string) => Promise<string[]>): Promise<string[]> {
    const problems: string[] = [];
    await Promise.all(
      this.nodes.map(async (addr) => {
        const label = this.label(addr);
        if (this.down.has(addr)) {
          problems.push(`node ${label} is unreachable (see the connect check): ${notChecked}`);
          return;
        }
        let r: Redis;
        try {
          r = await this.pool.dedicated(addr, { password: null });
        } catch (e) {
          problems.push(`node ${label}: could not open an unauthenticated connection: ${errorText(e)}`);
          return;
        }
        try {
          problems.push(...(await probe(r, label)));
        } finally {
          r.disconnect();
        }
      }),
    );
    return problems;
  }

  /** CLUSTER NODES + CLUSTER INFO of each node; errors are captured per node. */
  async snapshot(addrs: string[] = this.nodes): Promise<NodeSnapshot[]> {
    this.checkpoint();
    return Promise.all(
      addrs.map(async (addr): Promise<NodeSnapshot> => {
        if (this.down.has(addr)) return { addr, label: this.label(addr), error: "unreachable (see the connect check)" };
        try {
          const r = await this.pool.get(addr);
          const [nodes, info] = await Promise.all([
            r.call("CLUSTER", "NODES") as Promise<string>,
            r.call("CLUSTER", "INFO") as Promise<string>,
          ]);
          const lines = parseClusterNodes(nodes, this.endpoint);
          const me = lines.find(isMyself);
          if (me) this.ids.set(me.id, addr);
          return { addr, label: nodeLabel(addr, me?.id), id: me?.id, lines, info: parseInfo(info) };
        } catch (e) {
          return { addr, label: this.label(addr), error: errorText(e) };
        }
      }),
    );
  }

  /** Masters, their replicas and the slot owners, from one node's view. */
  buildTopology(lines: NodeLine[]): Topology {
    const labels = new Map<string, string>();
    for (const n of lines) labels.set(n.id, nodeLabel(n.addr, n.id));
    const masters: MasterInfo[] = lines
      .filter((n) => isMaster(n) && n.slots.length > 0)
      .sort((a, b) => a.slots[0][0] - b.slots[0][0])
      .map((m) => ({
        id: m.id,
        addr: m.addr,
        label: labels.get(m.id)!,
        slots: m.slots,
        replicas: lines
          .filter((r) => isReplica(r) && r.masterId === m.id && !r.flags.includes("fail") && !r.flags.includes("noaddr"))
          .map((r) => ({ id: r.id, addr: r.addr, label: labels.get(r.id)! })),
      }));
    const ownerBySlot: string[] = new Array(SLOT_COUNT).fill("");
    for (const m of masters) for (const [a, b] of m.slots) for (let s = a; s <= b; s++) ownerBySlot[s] = m.addr;
    return { masters, ownerBySlot };
  }

  /** Fresh topology from the first node that answers. */
  async refreshTopology(): Promise<Topology> {
    for (const s of await this.snapshot()) {
      if (s.lines && s.info?.cluster_state === "ok") return (this.topology = this.buildTopology(s.lines));
    }
    for (const s of await this.snapshot()) if (s.lines) return (this.topology = this.buildTopology(s.lines));
    throw new Error("no node answered CLUSTER NODES");
  }

  /** Shared Cluster client for data operations. */
  data(): Cluster {
    if (!this.s.dataClient) {
      // Not auto-pipelined: ioredis does not follow MOVED for an auto-pipelined batch whose keys moved to different nodes.
      this.s.dataClient = this.cluster();
    }
    return this.s.dataClient;
  }

  /** A new Cluster client (closed at the end of the run). */
  cluster(o: { autoPipelining?: boolean; commandTimeoutMs?: number; slotsRefreshIntervalMs?: number; slotsRefreshTimeoutMs?: number } = {}): Cluster {
    // A check that outlived its timeout must not open connections nobody closes.
    if (this.s.closed) throw new Aborted(this.step || "the run is closed");
    const c = clusterClient({
      seeds: this.opts.nodes,
      password: this.opts.password,
      username: this.opts.username,
      tls: this.opts.tls,
      natMap: this.pool.natMap,
      nodeTimeoutMs: this.nodeTimeoutMs,
      autoPipelining: o.autoPipelining,
      commandTimeoutMs: o.commandTimeoutMs ?? 10_000,
      slotsRefreshIntervalMs: o.slotsRefreshIntervalMs,
      slotsRefreshTimeoutMs: o.slotsRefreshTimeoutMs,
    });
    this.s.clients.push(c);
    return c;
  }

  /** Closes every connection of the run; afterwards checkpoints throw and no new connection is opened. */
  close(): void {
    this.s.closed = true;
    for (const c of this.s.clients) c.disconnect();
    this.pool.closeAll();
  }
}
