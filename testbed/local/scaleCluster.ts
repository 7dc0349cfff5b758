// Scaling a local cluster for real (tests and `npm run scale:full`): add/remove node processes around the scale step,
// a writer that acknowledges with WAIT all the time, and the checks after each step (every key readable, slot shares,
// no WAIT-acknowledged write lost, the writer's error window).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { Cluster } from "ioredis";
import { SLOT_COUNT } from "../../infra/plan/scaling";
import { countSlots, isMaster, isMyself, parseClusterNodes, parseInfo } from "../../smoke/topology";
import { Scaler, type ScaleOptions, type ScaleResult } from "../../infra/scale/scaler";
import { startLocalCluster, type LocalCluster, type LocalNode } from "./harness";
import { freePorts } from "./ports";
import { Writer } from "../../smoke/writer";

const REPO = join(__dirname, "..", "..");

/** Scale out: plans one more node (ordinal = current count) on a free port and starts it empty. */
export async function addNode(c: LocalCluster): Promise<LocalNode> {
  const [port] = await freePorts(1, { withBus: true });
  const index = c.nodes.length;
  const name = `node-${index}`;
  const host = "127.0.0.1";
  c.plan.nodes.push({ index, name, shard: 0, role: "replica", host, port, busPort: port + 10000 });
  // A fresh folder per added node: a node removed earlier under the same name left its nodes.conf behind.
  const dir = join(c.dir, `${name}-${port}`);
  const dataDir = join(dir, "data");
  mkdirSync(dataDir, { recursive: true });
  // pid(): the harness keeps processes by index; nothing here reads it.
  c.nodes.push({ index, name, host, port, busPort: port + 10000, dataDir, logFile: join(dir, "redis.log"), restarts: 0, restartTimes: [], pid: () => undefined });
  c.startNode(index);
  await c.waitReady(index);
  return c.nodes[index];
}

/** Scale in, after the scale step forgot it: stops the highest ordinal and drops it from the plan. */
export async function removeLastNode(c: LocalCluster): Promise<void> {
  await c.stopNode(c.nodes.length - 1);
  c.nodes.pop();
  c.plan.nodes.pop();
}

export function scaleOptions(c: LocalCluster, masters: number, replicasPerMaster: number, extra: Partial<ScaleOptions> = {}): ScaleOptions {
  return {
    nodes: c.seeds, names: c.nodes.map((n) => n.name), masters, replicasPerMaster,
    password: c.password, nodeTimeoutMs: c.spec.nodeTimeoutMs, log: () => {}, ...extra,
  };
}

/** One scale step in this process. */
export function scale(c: LocalCluster, masters: number, replicasPerMaster: number, extra: Partial<ScaleOptions> = {}): Promise<ScaleResult> {
  return new Scaler(scaleOptions(c, masters, replicasPerMaster, extra)).run();
}

/**
 * The whole change as `pulumi up` orders it: out = nodes first, then the step; in = the step (phase in) first, then the
 * nodes go, then the step again (phase out: nothing left, or replica balancing).
 */
export async function resize(c: LocalCluster, masters: number, replicasPerMaster: number, extra: Partial<ScaleOptions> = {}): Promise<ScaleResult[]> {
  const want = masters * (1 + replicasPerMaster);
  const results: ScaleResult[] = [];
  while (c.nodes.length < want) await addNode(c);
  const planned = c.seeds.slice(0, want);
  const names = c.nodes.slice(0, want).map((n) => n.name);
  results.push(await new Scaler({ ...scaleOptions(c, masters, replicasPerMaster, extra), nodes: planned, names, phase: "in" }).run());
  if (results[0].code !== 0) return results;
  while (c.nodes.length > want) await removeLastNode(c);
  results.push(await scale(c, masters, replicasPerMaster, { ...extra, phase: "out" }));
  return results;
}

/** The scale CLI as a child process (to kill it for real mid-run). */
export function spawnScaleCli(c: LocalCluster, masters: number, replicasPerMaster: number, args: string[] = []) {
  const argv = [
    "--import", "tsx", join(REPO, "infra/scale/cli.ts"), "--nodes", c.seeds.join(","), "--names", c.nodes.map((n) => n.name).join(","),
    "--masters", String(masters), "--replicas", String(replicasPerMaster), "--node-timeout-ms", String(c.spec.nodeTimeoutMs), ...args,
  ];
  return spawn(process.execPath, argv, { env: { ...process.env, ...c.cliEnv() }, stdio: ["ignore", "pipe", "pipe"], detached: true });
}

export interface TopologyReport {
  masters: number;
  replicas: number[];
  /** Slots per master. */
  shares: number[];
  /** Largest deviation of a master's share from 16384/masters, in %. */
  maxDeviationPct: number;
  openSlots: number;
  knownNodes: number[];
}

/** What every node says (its own line for roles and slots). */
export function topology(c: LocalCluster): TopologyReport {
  const mine = c.nodes.map((_, i) => parseClusterNodes(c.cli(i, ["cluster", "nodes"]).stdout).find(isMyself)!);
  const masters = mine.filter((n) => isMaster(n) && n.slots.length > 0);
  const shares = masters.map((n) => countSlots(n.slots));
  const replicas = masters.map((m) => mine.filter((n) => n.masterId === m.id).length);
  const ideal = SLOT_COUNT / Math.max(1, masters.length);
  return {
    masters: masters.length,
    replicas,
    shares,
    maxDeviationPct: Math.max(0, ...shares.map((s) => (Math.abs(s - ideal) / ideal) * 100)),
    openSlots: mine.reduce((k, n) => k + n.migrating.length + n.importing.length, 0),
    knownNodes: c.nodes.map((_, i) => Number(parseInfo(c.cli(i, ["cluster", "info"]).stdout).cluster_known_nodes)),
  };
}

export function clusterClient(c: LocalCluster): Cluster {
  const cl = new Cluster(c.seeds.slice(0, 3).map((s) => ({ host: s.split(":")[0], port: Number(s.split(":")[1]) })), {
    redisOptions: { password: c.password, connectTimeout: 2000, commandTimeout: 3000 },
    maxRedirections: 32, retryDelayOnFailover: 200, retryDelayOnClusterDown: 200, retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2000, lazyConnect: true,
  });
  cl.on("error", () => {});
  return cl;
}

/** Writes `count` keys k:{i} = "0" (pipelined). */
export async function seedKeys(cl: Cluster, count: number, prefix = "k"): Promise<void> {
  for (let i = 0; i < count; i += 500) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(count, i + 500); j++) batch.push(cl.set(`${prefix}:${j}`, "0"));
    await Promise.all(batch);
  }
}

/**
 * The start of every scale run under load: a local 3x1 cluster (cluster-node-timeout 2000), `keys` keys seeded and a
 * WaitWriter rewriting them; on a failure everything started is stopped. The caller stops the writer, client and cluster.
 */
export async function startWrittenCluster(password: string, keys: number): Promise<{ c: LocalCluster; client: Cluster; writer: WaitWriter }> {
  const c = await startLocalCluster({ password, nodeTimeoutMs: 2000 });
  const client = clusterClient(c);
  try {
    await client.connect();
    await seedKeys(client, keys);
    const writer = new WaitWriter(client, keys);
    writer.start();
    return { c, client, writer };
  } catch (e) {
    client.disconnect();
    await c.stop();
    throw e;
  }
}

export interface WriterStats {
  attempts: number;
  acked: number;
  errors: number;
  /** First and last error (ms since the writer started) and the longest run of consecutive failed writes, in ms. */
  firstErrorMs?: number;
  lastErrorMs?: number;
  longestErrorWindowMs: number;
  errorSamples: string[];
  /** Writes that met a MOVED/ASK (slot moving) and were retried. */
  redirects: number;
  /** The longest a write (SET + WAIT, redirects retried) took, in ms: how long a client waited at worst. */
  slowestMs: number;
}

/**
 * Rewrites keys of the seeded set with increasing values, each SET followed by WAIT 1 on the same node (one pipeline):
 * a write counts as acknowledged only when WAIT says a replica has it. `lost()` then compares every acknowledged value
 * with what the cluster returns.
 */
export class WaitWriter {
  readonly acked = new Map<string, number>();
  readonly attempted = new Map<string, number>();
  readonly stats: WriterStats = { attempts: 0, acked: 0, errors: 0, longestErrorWindowMs: 0, errorSamples: [], redirects: 0, slowestMs: 0 };
  private writer?: Writer;
  private readonly t0 = Date.now();

  constructor(private readonly cl: Cluster, private readonly keys: number, private readonly prefix = "k", private readonly replicas = 1) {}

  start(concurrency = 4): void {
    // Per loop: when its current run of failed writes began.
    const errorSince: (number | undefined)[] = [];
    this.writer = new Writer(this.cl, {
      key: (n) => `${this.prefix}:${n % this.keys}`,
      // Unique and increasing per key within a loop.
      value: (_, n) => String(n + 1),
      wait: { replicas: this.replicas, timeoutMs: 1000 },
      loops: concurrency,
      maxCommands: 50_000_000 * concurrency,
      redirectRetries: 39,
      pause: { ok: 0, error: 20 },
      keepTimeline: false,
      onWrite: (w) => {
        this.stats.attempts++;
        this.attempted.set(w.key, Math.max(this.attempted.get(w.key) ?? 0, Number(w.value)));
        this.stats.redirects += w.redirects;
        this.stats.slowestMs = Math.max(this.stats.slowestMs, w.end - w.start);
        if (w.error) {
          const now = w.end - this.t0;
          this.stats.errors++;
          this.stats.firstErrorMs ??= now;
          this.stats.lastErrorMs = now;
          errorSince[w.loop] ??= w.end;
          if (this.stats.errorSamples.length < 50) this.stats.errorSamples.push(`${now} ms: ${w.error}`);
          return;
        }
        if (this.replicas === 0 || w.result === "acked") {
          this.acked.set(w.key, Math.max(this.acked.get(w.key) ?? 0, Number(w.value)));
          this.stats.acked++;
        }
        const since = errorSince[w.loop];
        if (since !== undefined) this.stats.longestErrorWindowMs = Math.max(this.stats.longestErrorWindowMs, w.end - since);
        errorSince[w.loop] = undefined;
      },
    }).start();
  }

  async finish(): Promise<WriterStats> {
    await this.writer?.stop();
    return this.stats;
  }

  /** Keys whose value is below the last acknowledged one (or missing): acknowledged writes lost. */
  async lost(): Promise<{ lost: string[]; unreadable: string[]; checked: number }> {
    // Acknowledged values as of now: the writer may still run, and a value acknowledged after a key was read is no loss.
    const acked = new Map(this.acked);
    const lost: string[] = [];
    const unreadable: string[] = [];
    const all = Array.from({ length: this.keys }, (_, i) => `${this.prefix}:${i}`);
    for (let i = 0; i < all.length; i += 500) {
      const chunk = all.slice(i, i + 500);
      const res = await Promise.all(chunk.map((k) => this.cl.get(k).then((v) => [null, v] as const, (e: Error) => [e, null] as const)));
      chunk.forEach((k, j) => {
        const [err, v] = res[j];
        if (err || v === null) unreadable.push(k);
        else if (Number(v) < (acked.get(k) ?? 0)) lost.push(k);
      });
    }
    return { lost, unreadable, checked: all.length };
  }
}
