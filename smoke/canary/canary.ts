// The canary: what an application sees, every interval, for as long as the cluster lives. Per shard a SET + WAIT 1
// (the write), a GET from the master and a read of the last acknowledged write from a replica; every acknowledged
// write is re-read later and counted as lost when it is gone or changed. Direct connections per node (the canary must
// know which master it is talking to); the topology is re-read every few seconds and after any failed request.
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import type { Redis } from "ioredis";
import { errorText, NodePool, withTimeout } from "../clients";
import { endpointTypeOf, parseClusterNodes } from "../topology";
import { sleep } from "../time";
import type { NatMapEntries, TlsClientOptions } from "../types";
import { AckRing, type AckedWrite } from "./ackRing";
import { CanaryMetrics, type CanaryOp, type CanaryResult } from "./metrics";
import { CanaryTally, DEFAULT_CANARY_SLO, type CanarySlo, type CanaryWindow } from "./view";
import { describeTopology, mastersKey, pickView, shardOfKey, topologyOf, type Shard, type Topology } from "./shards";

export interface CanaryOptions {
  /** Reachable host:port addresses to read the topology from (announced addresses are added as they are seen). */
  seeds: string[];
  password?: string;
  username?: string;
  tls?: TlsClientOptions;
  natMap?: NatMapEntries;
  /** One round per interval. Default 1000. */
  intervalMs?: number;
  /** Per request (connect included): past it the request counts as result="timeout". Default 1000. */
  timeoutMs?: number;
  /** WAIT's own timeout, below timeoutMs (a missing replica is an unreplicated write, not a timeout) and the interval. Default: half the smaller. */
  waitMs?: number;
  /** Topology re-read period when nothing fails. Default 5000. */
  refreshMs?: number;
  /** How long after its acknowledgement a write is re-read. Default 30000. */
  verifyAfterMs?: number;
  /** Acknowledged writes kept per shard for the re-read (and keys per shard in Redis). Default 1000. */
  ringSize?: number;
  /** Re-reads per shard per round (above the write rate, so the queue drains after an outage). Default 3. */
  verifyPerRound?: number;
  /** One line per event (topology change, lost write, connection lost/back, failures starting/ending). */
  log?: (line: string) => void;
  /** Part of every key, so two canaries on one cluster never read each other's writes. Default: random. */
  instance?: string;
  /** The SLO its own window view (view()) reports burn against. Default: the stack config's defaults. */
  slo?: CanarySlo;
}

/** A request that got no (or no expected) answer in time. */
class CanaryTimeout extends Error {}

const isTimeout = (e: unknown) => e instanceof CanaryTimeout || /no answer within|timed out|ETIMEDOUT/i.test(errorText(e));
/** Pause between replica reads of a write not visible there yet. */
const REPLICA_POLL_MS = 5;

type Outcome<T> = { ok: true; value: T } | { ok: false; problem: string };

export class Canary {
  readonly metrics = new CanaryMetrics();
  /** The same counts as the SLI metrics, with a history, for view(). */
  private readonly tally: CanaryTally;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  readonly instance: string;
  private readonly waitMs: number;
  private readonly refreshMs: number;
  private readonly verifyAfterMs: number;
  private readonly ringSize: number;
  private readonly verifyPerRound: number;
  /** Key TTL: far beyond the re-read, so only a canary that stopped leaves keys behind, and not for long. */
  private readonly ttlMs: number;
  private readonly log: (line: string) => void;

  /**
   * Two connections per node: WAIT blocks its connection for up to waitMs when no replica answers, and reads queued
   * behind it would then measure the canary's own queue, not Redis. Writes (SET + WAIT) use `writes`, all else `pool`.
   */
  private pool: NodePool;
  private writes: NodePool;
  /** The addresses the current pools serve; a new set (nodes replaced) gets new pools, the old ones are closed. */
  private poolAddrs?: string;
  private topo?: Topology;
  /**
   * What the nodes give clients (cluster-preferred-endpoint-type), told by a CLUSTER SLOTS reply: with "hostname" a
   * node is addressed by the name it announces (a certificate verified by hostname names it, not the pod IP that
   * CLUSTER NODES also lists). Learned again after a blind spell (a redeploy may change it).
   */
  private endpoint?: "ip" | "hostname";
  private refreshedAt = 0;
  /** A request failed in a way a topology change explains: re-read it before the next round. */
  private stale = false;
  /** No node answered the last topology read (logged once per outage). */
  private blind = false;
  private readonly rings = new Map<string, AckRing>();
  private readonly linkUp = new Map<string, boolean>();
  private readonly watched = new WeakSet<Redis>();
  private readonly readOnly = new WeakSet<Redis>();
  private readonly failing = new Map<string, { since: number; rounds: number }>();
  private readonly fineSince = new Map<string, number>();
  private replicaTurn = 0;
  private refreshing?: Promise<void>;
  private readonly verifying = new Set<string>();
  /** Pools of replaced node addresses, closed once their last requests are over. */
  private readonly retired = new Set<NodePool[]>();
  private readonly abort = new AbortController();
  private running?: Promise<void>;
  /** End of the last completed round (ms since epoch). */
  lastRoundAt?: number;
  rounds = 0;

  constructor(private readonly o: CanaryOptions) {
    if (o.seeds.length === 0) throw new Error("the canary needs at least one seed node");
    this.intervalMs = o.intervalMs ?? 1000;
    this.timeoutMs = o.timeoutMs ?? 1000;
    this.waitMs = o.waitMs ?? Math.max(1, Math.floor(Math.min(this.timeoutMs, this.intervalMs) / 2));
    // Rounds overlap when requests are slow: a WAIT longer than the interval would queue writes without end.
    if (this.waitMs >= this.timeoutMs || this.waitMs >= this.intervalMs) {
      throw new Error(`WAIT timeout ${this.waitMs} ms must be below the request timeout (${this.timeoutMs} ms) and the interval (${this.intervalMs} ms)`);
    }
    this.refreshMs = o.refreshMs ?? 5000;
    this.verifyAfterMs = o.verifyAfterMs ?? 30_000;
    this.ringSize = o.ringSize ?? 1000;
    this.verifyPerRound = o.verifyPerRound ?? 3;
    this.ttlMs = Math.max(2 * this.ringSize * this.intervalMs, 4 * this.verifyAfterMs);
    this.instance = o.instance ?? randomBytes(3).toString("hex");
    this.log = o.log ?? (() => undefined);
    this.tally = new CanaryTally(o.slo ?? DEFAULT_CANARY_SLO);
    this.pool = this.newPool();
    this.writes = this.newPool();
  }

  /** Starts the loop (idempotent). */
  start(): void {
    this.running ??= this.loop();
  }

  /** Ends the loop after the current round and closes every connection. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    await this.refreshing;
    for (const p of [this.pool, this.writes, ...[...this.retired].flat()]) p.closeAll();
  }

  /**
   * Alive = a round ended recently. A round may take a few request timeouts (the write, then the reads and re-reads)
   * when a node hangs, so the window is 3 intervals plus 3 timeouts: a hanging Redis node is not a hanging canary.
   */
  healthy(now = Date.now()): boolean {
    return this.lastRoundAt !== undefined && now - this.lastRoundAt <= 3 * this.intervalMs + 3 * this.timeoutMs;
  }

  /** What it counted in the last `lastMs` ms (GET /view). */
  view(lastMs: number): CanaryWindow {
    return this.tally.view(this.instance, lastMs);
  }

  /** The current shards (for status output and tests). */
  get shards(): readonly Shard[] {
    return this.topo?.shards ?? [];
  }

  private newPool(): NodePool {
    return new NodePool(this.o.password, this.o.natMap ?? {}, this.timeoutMs, this.timeoutMs, this.o.tls, this.o.username);
  }

  /**
   * Rounds start at a fixed rate, whether or not earlier ones ended: a hanging master must not slow the other shards,
   * nor thin out its own requests (the availability SLI would then under-weight the outage). Each round is bounded by
   * its request timeouts, so at most about (2 timeouts / interval) + 1 rounds are in flight.
   */
  private async loop(): Promise<void> {
    const { signal } = this.abort;
    const inFlight = new Set<Promise<void>>();
    let next = Date.now();
    while (!signal.aborted) {
      this.tally.sample();
      const r = this.round().then(
        () => {
          this.lastRoundAt = Date.now();
          this.rounds++;
        },
        (e) => this.log(`round failed: ${errorText(e)}`),
      );
      inFlight.add(r);
      void r.finally(() => inFlight.delete(r));
      next += this.intervalMs;
      // Behind by more than a round (a paused process): start again from now instead of bursting to catch up.
      if (next < Date.now() - this.intervalMs) next = Date.now();
      await delay(Math.max(0, next - Date.now()), undefined, { signal }).catch(() => undefined);
    }
    await Promise.allSettled([...inFlight]);
  }

  private async round(): Promise<void> {
    if (!this.refreshing && (!this.topo || this.stale || Date.now() - this.refreshedAt >= this.refreshMs)) {
      this.refreshing = this.refresh().finally(() => (this.refreshing = undefined));
    }
    // Only the first rounds wait for the topology; later ones use the last one while it is re-read.
    if (!this.topo) await this.refreshing;
    const topo = this.topo;
    if (!topo) return;
    const verifies = [...this.rings.entries()].filter(([tag]) => !this.verifying.has(tag)).map(async ([tag, ring]) => {
      // One re-read pass per tag at a time: two would re-read (and count) the same writes.
      this.verifying.add(tag);
      try {
        await this.verify(tag, ring, topo);
      } finally {
        this.verifying.delete(tag);
      }
    });
    await Promise.all([...topo.shards.map((s) => this.probe(s)), ...verifies]);
  }

  /** A pooled connection to a node, watched for loss and return (one log line each). */
  private async conn(addr: string): Promise<Redis> {
    const pool = this.pool;
    const r = await pool.get(addr);
    if (!this.watched.has(r)) {
      this.watched.add(r);
      r.on("close", () => {
        this.readOnly.delete(r);
        if (this.pool !== pool || this.abort.signal.aborted || this.linkUp.get(addr) === false) return;
        this.linkUp.set(addr, false);
        this.log(`connection to ${addr} lost; reconnecting`);
      });
      r.on("ready", () => {
        if (this.pool !== pool) return;
        if (this.linkUp.get(addr) === false) this.log(`connection to ${addr} back`);
        this.linkUp.set(addr, true);
      });
      if (r.status === "ready") this.linkUp.set(addr, true);
    }
    return r;
  }

  /** Asks CLUSTER SLOTS once (until a reply with slots tells the endpoint type). */
  private async learnEndpoint(r: Redis): Promise<void> {
    if (this.endpoint !== undefined) return;
    const slots = await r.call("CLUSTER", "SLOTS");
    if (Array.isArray(slots) && slots.length > 0) this.endpoint = endpointTypeOf(slots);
  }

  /** Reads every known node's CLUSTER NODES at once and keeps the freshest view. */
  private async refresh(): Promise<void> {
    const addrs = [...new Set([...(this.topo?.nodes ?? []), ...this.o.seeds])];
    const views = await Promise.all(
      addrs.map((a) =>
        withTimeout(this.conn(a).then((r) => this.learnEndpoint(r).then(() => r.call("CLUSTER", "NODES") as Promise<string>)), this.timeoutMs, `CLUSTER NODES at ${a}`).then(
          (text) => topologyOf(parseClusterNodes(text, this.endpoint ?? "ip")),
          () => undefined,
        ),
      ),
    );
    this.refreshedAt = Date.now();
    this.stale = false;
    const next = pickView(views.filter((v): v is Topology => v !== undefined && v.shards.length > 0));
    if (!next) {
      if (!this.blind) this.log(`no node answered CLUSTER NODES with slots (asked ${addrs.length}); keeping the last topology`);
      this.blind = true;
      this.endpoint = undefined;
      return;
    }
    if (this.blind) this.log("the topology is readable again");
    this.blind = false;
    const prev = this.topo;
    if (!prev || mastersKey(prev) !== mastersKey(next)) {
      if (prev) {
        this.metrics.topologyChanges.inc();
        this.tally.totals.topologyChanges++;
      }
      this.log(`${prev ? "topology changed" : "topology"}: ${describeTopology(next)}`);
      for (const s of next.shards) this.metrics.initShard(s.label);
      for (const s of prev?.shards.slice(next.shards.length) ?? []) this.metrics.dropShard(s.label);
      this.metrics.shards.set(next.shards.length);
    } else if (describeTopology(prev) !== describeTopology(next)) {
      this.log(`replicas changed: ${describeTopology(next)}`);
    }
    const poolAddrs = [...new Set([...next.nodes, ...this.o.seeds])].sort().join(",");
    if (this.poolAddrs !== undefined && this.poolAddrs !== poolAddrs) {
      // Nodes replaced (new addresses): connections to the old ones would otherwise accumulate forever.
      const old = [this.pool, this.writes];
      [this.pool, this.writes] = [this.newPool(), this.newPool()];
      this.linkUp.clear();
      this.retired.add(old);
      // Requests of rounds in flight still use them: close them once those are over.
      setTimeout(() => {
        for (const p of old) p.closeAll();
        this.retired.delete(old);
      }, this.intervalMs + 4 * this.timeoutMs).unref();
      this.log(`node addresses changed: ${next.nodes.join(",")}; reconnecting`);
      // Nodes replaced (a rolling deploy) may announce differently now (external access turned on or off).
      this.endpoint = undefined;
    }
    this.poolAddrs = poolAddrs;
    this.topo = next;
    for (const [tag, ring] of this.rings) if (ring.size === 0 && !next.shards.some((s) => s.tag === tag)) this.rings.delete(tag);
  }

  /** One request: counted, timed (every result), bounded by the request timeout. */
  private async request<T>(shard: string, op: CanaryOp, addr: string, fn: () => Promise<T>): Promise<Outcome<T>> {
    const t0 = performance.now();
    let result: CanaryResult = "ok";
    try {
      return { ok: true, value: await withTimeout(fn(), this.timeoutMs, "request") };
    } catch (e) {
      result = isTimeout(e) ? "timeout" : "error";
      // MOVED, a refused connection, a hanging master: each may be a failover; re-read the topology first.
      this.stale = true;
      return { ok: false, problem: `${op} ${result} at ${addr}: ${errorText(e).replace(/^request: /, "")}` };
    } finally {
      const ms = performance.now() - t0;
      this.metrics.requests.labels(shard, op, result).inc();
      this.metrics.duration.labels(shard, op).observe(ms / 1000);
      this.tally.request(op, result, ms);
    }
  }

  private ringOf(tag: string): AckRing {
    let ring = this.rings.get(tag);
    if (!ring) {
      ring = new AckRing(this.ringSize, (i) => `canary:{${tag}}:${this.instance}:${i}`);
      this.rings.set(tag, ring);
    }
    return ring;
  }

  private async probe(s: Shard): Promise<void> {
    const startedAt = Date.now();
    const ring = this.ringOf(s.tag);
    const { seq, key } = ring.next();
    const value = `${this.instance}:${seq}:${Date.now()}`;
    const set = await this.request(s.label, "set", s.master, async () => {
      const r = await this.writes.get(s.master);
      // Pipelined on one connection: WAIT counts the replicas that have this connection's SET.
      const [, replicas] = await Promise.all([r.set(key, value, "PX", this.ttlMs), r.call("WAIT", 1, this.waitMs) as Promise<number>]);
      return replicas;
    });
    let acked: AckedWrite | undefined;
    if (set.ok && set.value >= 1) ring.acked((acked = { seq, key, value, ackedAt: Date.now() }));
    else if (set.ok) {
      this.metrics.unreplicated.labels(s.label).inc();
      this.tally.totals.unreplicated++;
    }
    const target = acked ?? ring.last;
    const [get, replica] = await Promise.all([
      this.request(s.label, "get", s.master, async () => {
        const v = await (await this.conn(s.master)).get(key);
        if (set.ok && v !== value) throw new Error(`GET ${key} returned ${v === null ? "nothing" : "another value"} right after its SET`);
      }),
      target && s.replicas.length > 0 ? this.replicaRead(s, target, acked !== undefined) : undefined,
    ]);
    this.note(s, startedAt, [set, get, replica].flatMap((o) => (o && !o.ok ? [o.problem] : [])));
  }

  /**
   * One log line when a shard starts failing and one when it is fine again. Rounds overlap, so a round started before
   * the last change of state (e.g. still waiting on the old master) neither starts nor ends a failure.
   */
  private note(s: Shard, startedAt: number, problems: string[]): void {
    const f = this.failing.get(s.label);
    if (problems.length > 0) {
      if (f) f.rounds++;
      else if (startedAt >= (this.fineSince.get(s.label) ?? 0)) {
        this.failing.set(s.label, { since: startedAt, rounds: 1 });
        this.log(`shard ${s.label}: ${problems.join("; ")}`);
      }
    } else if (f && startedAt >= f.since) {
      this.failing.delete(s.label);
      this.fineSince.set(s.label, startedAt);
      this.log(`shard ${s.label}: requests ok again at ${s.master} after ${f.rounds} failed rounds over ${((Date.now() - f.since) / 1000).toFixed(1)} s`);
    }
  }

  /**
   * Polls a replica (round robin) until it returns the write. For a write acknowledged this round (the read starts
   * right after the acknowledgement) the time until it was visible is the replica lag.
   */
  private async replicaRead(s: Shard, w: AckedWrite, isNew: boolean): Promise<Outcome<number>> {
    const addr = s.replicas[this.replicaTurn++ % s.replicas.length];
    const t0 = performance.now();
    const seen = await this.request(s.label, "replica_read", addr, async () => {
      const deadline = Date.now() + this.timeoutMs;
      const r = await this.conn(addr);
      if (!this.readOnly.has(r)) {
        await r.call("READONLY");
        this.readOnly.add(r);
      }
      for (let i = 0; Date.now() < deadline && i < 100_000; i++) {
        if ((await r.get(w.key)) === w.value) return performance.now() - t0;
        await sleep(REPLICA_POLL_MS);
      }
      throw new CanaryTimeout(`not visible within ${this.timeoutMs} ms`);
    });
    if (seen.ok && isNew) this.metrics.replicaLag.labels(s.label).set(seen.value / 1000);
    return seen;
  }

  /** Re-reads the oldest due writes of one tag from the master owning them now; stops at the first failed read. */
  private async verify(tag: string, ring: AckRing, topo: Topology): Promise<void> {
    const now = Date.now();
    ring.expire(now, this.ttlMs / 2);
    for (const w of ring.due(now, this.verifyAfterMs, this.verifyPerRound)) {
      const s = shardOfKey(topo, w.key);
      if (!s) return;
      let v: string | null;
      try {
        v = await withTimeout(this.conn(s.master).then((r) => r.get(w.key)), this.timeoutMs, `re-read of ${w.key}`);
      } catch {
        return; // unanswered is not lost: read again next round
      }
      ring.settle(w);
      if (v === w.value) {
        this.metrics.verified.labels(s.label).inc();
        this.tally.totals.verified++;
        continue;
      }
      this.metrics.lost.labels(s.label).inc();
      this.tally.totals.lost++;
      const ago = ((Date.now() - w.ackedAt) / 1000).toFixed(1);
      this.log(`lost acknowledged write: shard ${s.label} (${s.master}) key ${w.key} acknowledged ${ago} s ago is ${v === null ? "missing" : "changed"} (tag ${tag})`);
    }
  }
}
