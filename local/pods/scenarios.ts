// Restart scenarios of the prod pods on the pods runner (./runner.ts), each judged from what the nodes and clients
// observed: every node's own view (state, addresses, links, flags), a history of acknowledged writes (with WAIT 1 and
// without) checked after the scenario, and the time until the cluster was whole again. `npm run pods:scenarios`
// runs them all on one deployment and prints one table row per scenario; the short test runs two of them.
import Redis, { Cluster } from "ioredis";
import keySlot = require("cluster-key-slot");
import { upOn, type PodsRunner, type UpResult } from "./runner";
import { unwrapSecrets } from "../../test/engine/values";
import type { ConfigInput } from "../../test/engine/engine";

export const STACK = "prod";
export const STS = "redis-cluster-prod";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const field = (text: string, k: string) => new RegExp(`^${k}:(.*)$`, "m").exec(text)?.[1]?.trim();

export interface Row {
  scenario: string;
  expected: string;
  observed: string;
  pass: boolean;
  /** ms from the moment the disruption ended (pods released) until every node's view was whole. */
  timeToOkMs?: number;
  /** Acknowledged writes lost: with WAIT 1 / without (after re-reads); unreadable: every read of the key failed. */
  lost?: { wait: number; plain: number; ackedWait: number; ackedPlain: number; unreadable?: number };
  notes: string[];
}

/**
 * Stack config of the scenarios: Pulumi.prod.yaml as committed (TLS and ACL users on: the platform defaults), with a
 * smaller smoke run. `plain`: TLS and ACL off (one password, plain RESP), as the runs before TLS support were.
 */
export function scenarioConfig(opts: { smoke?: boolean; smokeKeys?: number; failover?: "none" | "manual"; plain?: boolean; extra?: Record<string, ConfigInput> }): Record<string, ConfigInput> {
  return {
    "redis-cluster:smoke": { enabled: opts.smoke ?? true, failover: opts.failover ?? "manual", keys: opts.smokeKeys ?? 1000 },
    ...(opts.plain ? { "redis-cluster:tls": { enabled: false }, "redis-cluster:acl": { enabled: false } } : {}),
    ...(opts.extra ?? {}),
  };
}

export interface NodeView {
  pod: string;
  ip: string;
  state?: string;
  /** INFO's role: "master" also for a cluster replica whose master has no address (replication never configured). */
  role?: string;
  /** The role in the node's own CLUSTER NODES line (myself). */
  clusterRole?: "master" | "slave";
  id?: string;
  /** Own CLUSTER NODES lines, split. */
  nodes: string[][];
  linkUp?: string;
  masterHost?: string;
  error?: string;
}

/** The deployed prod cluster seen from the runner's host (pod IPs on the runner's network, no NAT). */
export interface ClientAuth {
  /** acl.enabled: the admin user (`default` is off on Kubernetes); the password is admin's. */
  username?: string;
  /** tls.enabled: the CA and the clients' certificate from the program's client TLS Secret (tls-auth-clients may ask for it). */
  tls?: { ca: string; cert: string; key: string };
}

export class ProdCluster {
  constructor(readonly runner: PodsRunner, readonly password: string, readonly auth: ClientAuth = {}) {}

  /**
   * What a host client needs, from the stack's outputs as an operator reads them: the password (`redisPassword`, else
   * after an up that failed once the cluster formed, the pods' Secret), `admin` when the stack has ACL users
   * (`aclSecretNames`), and the client certificate's Secret (`tlsClientSecretName`) when TLS is on.
   */
  static fromUp(runner: PodsRunner, up: UpResult): ProdCluster {
    const out = unwrapSecrets<Record<string, any>>(up.run.outputs);
    let pw: string | undefined = out.redisPassword;
    const secretData = (name: string) => {
      for (const [k, o] of runner.objects) {
        if (k.startsWith("Secret/") && k.endsWith(`/${name}`)) {
          const d: Record<string, string> = {};
          for (const [f, v] of Object.entries(o.data ?? {})) d[f] = Buffer.from(String(v), "base64").toString();
          return { ...d, ...(o.stringData ?? {}) };
        }
      }
      return undefined;
    };
    if (!pw) {
      for (const [k, o] of runner.objects) if (k.startsWith("Secret/") && o.stringData?.password) pw = o.stringData.password;
    }
    if (!pw) throw new Error("no password: neither the stack output nor a Secret with key password");
    const auth: ClientAuth = {};
    if (out.aclSecretNames && Object.keys(out.aclSecretNames).length > 0) auth.username = "admin";
    if (out.tlsClientSecretName) {
      const d = secretData(out.tlsClientSecretName);
      if (!d?.["ca.crt"] || !d["tls.crt"] || !d["tls.key"]) throw new Error(`TLS client Secret ${out.tlsClientSecretName} lacks ca.crt/tls.crt/tls.key`);
      auth.tls = { ca: d["ca.crt"], cert: d["tls.crt"], key: d["tls.key"] };
    }
    return new ProdCluster(runner, pw, auth);
  }

  /** ioredis options of every host client: password, admin user, TLS against the cluster's CA (no host-name check: pod IPs, as the Jobs). */
  private get clientOptions(): { password: string; username?: string; tls?: object } {
    const t = this.auth.tls;
    return {
      password: this.password,
      ...(this.auth.username ? { username: this.auth.username } : {}),
      ...(t ? { tls: { ca: t.ca, cert: t.cert, key: t.key, checkServerIdentity: () => undefined } } : {}),
    };
  }

  pods(): string[] {
    return this.runner.podNames(STS);
  }
  ip(pod: string): string {
    return this.runner.pods.get(pod)?.ip ?? "";
  }
  present(): string[] {
    return this.pods().filter((p) => this.runner.pods.get(p)?.phase === "Running");
  }

  async on<T>(pod: string, fn: (r: Redis) => Promise<T>): Promise<T> {
    const r = new Redis({ host: this.ip(pod), port: 6379, ...this.clientOptions, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, commandTimeout: 3000, retryStrategy: () => null });
    r.on("error", () => undefined);
    try {
      await r.connect();
      return await fn(r);
    } finally {
      r.disconnect();
    }
  }

  async view(pod: string): Promise<NodeView> {
    const v: NodeView = { pod, ip: this.ip(pod), nodes: [] };
    try {
      await this.on(pod, async (r) => {
        v.state = field((await r.cluster("INFO")) as string, "cluster_state");
        v.nodes = ((await r.cluster("NODES")) as string).trim().split("\n").map((l) => l.split(" "));
        const repl = (await r.info("replication")) as string;
        v.role = field(repl, "role");
        v.linkUp = field(repl, "master_link_status");
        v.masterHost = field(repl, "master_host");
        const me = v.nodes.find((n) => n[2].includes("myself"));
        v.id = me?.[0];
        v.clusterRole = me?.[2].includes("slave") ? "slave" : "master";
      });
    } catch (e) {
      v.error = (e as Error).message;
    }
    return v;
  }

  /** Whole = every pod answers, says ok, lists every pod at its current IP, connected, no fail/noaddr/handshake; replicas linked. */
  async problems(): Promise<string[]> {
    const ips = this.pods().map((p) => this.ip(p));
    if (ips.some((ip) => !ip)) return [`pods without IP: ${this.pods().filter((p) => !this.ip(p)).join(", ")}`];
    const expected = [...ips].sort().join(" ");
    const views = await Promise.all(this.pods().map((p) => this.view(p)));
    const bad: string[] = [];
    for (const v of views) {
      if (v.error) {
        bad.push(`${v.pod}: ${v.error}`);
        continue;
      }
      const seen = v.nodes.map((n) => n[1].split("@")[0].split(":")[0]).sort().join(" ");
      const flagged = v.nodes.filter((n) => /fail|noaddr|handshake/.test(n[2]) || n[7] !== "connected");
      if (v.state !== "ok" || seen !== expected || flagged.length > 0 || (v.clusterRole === "slave" && v.linkUp !== "up")) {
        bad.push(`${v.pod}: state ${v.state}, link ${v.linkUp ?? "-"}, flagged ${flagged.map((n) => `${n[1].split("@")[0]} ${n[2]} ${n[7]}`).join(", ")}`);
      }
    }
    return bad;
  }

  async waitWhole(timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    let last: string[] = [];
    for (let i = 0; i < 10_000 && Date.now() - t0 < timeoutMs; i++) {
      last = await this.problems();
      if (last.length === 0) return Date.now() - t0;
      await sleep(250);
    }
    throw new Error(`cluster not whole within ${timeoutMs} ms:\n${last.join("\n")}`);
  }

  /** Masters holding slots, by pod, with their replica's pod (from the view of a pod that answers). */
  async shards(): Promise<{ master: string; replica?: string; masterId: string; slots?: string }[]> {
    const byIp = new Map(this.pods().map((p) => [this.ip(p), p]));
    for (const p of this.present()) {
      const v = await this.view(p);
      if (v.error) continue;
      return v.nodes
        .filter((n) => n[2].includes("master") && n.length > 8)
        .map((n) => {
          const rep = v.nodes.find((x) => x[3] === n[0]);
          return { master: byIp.get(n[1].split(":")[0])!, replica: rep ? byIp.get(rep[1].split(":")[0]) : undefined, masterId: n[0], slots: n.slice(8).join(" ") };
        });
    }
    throw new Error("no pod answers");
  }

  client(): Cluster {
    const c = new Cluster(this.present().map((p) => ({ host: this.ip(p), port: 6379 })), {
      redisOptions: { ...this.clientOptions, connectTimeout: 2000, commandTimeout: 3000 },
      clusterRetryStrategy: (n) => (n > 50 ? null : 200),
      retryDelayOnFailover: 300,
      retryDelayOnClusterDown: 300,
      maxRedirections: 16,
      slotsRefreshTimeout: 2000,
    });
    c.on("error", () => undefined);
    return c;
  }

  async writeKeys(prefix: string, n: number): Promise<void> {
    const c = this.client();
    try {
      for (let i = 0; i < n; i += 200) {
        await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, j) => c.set(`${prefix}:${i + j}`, `v-${prefix}:${i + j}`)));
      }
      // Every replica has it before any disruption.
      for (const p of this.present()) await this.on(p, (r) => r.call("WAIT", "1", "5000")).catch(() => undefined);
    } finally {
      c.disconnect();
    }
  }

  async missingKeys(prefix: string, n: number): Promise<string[]> {
    const c = this.client();
    try {
      const keys = Array.from({ length: n }, (_, i) => `${prefix}:${i}`);
      const missing: string[] = [];
      for (let i = 0; i < keys.length; i += 200) {
        const part = keys.slice(i, i + 200);
        const vals = await Promise.all(part.map((k) => c.get(k).catch(() => null)));
        part.forEach((k, j) => vals[j] !== `v-${k}` && missing.push(k));
      }
      return missing;
    } finally {
      c.disconnect();
    }
  }
}

/** Acknowledged writes that did not read back, judged after re-reads (see Writer.lost). */
export interface LostDetail {
  key: string;
  mode: "wait" | "plain";
  /** null: the key does not exist (lost); "error: …": every read failed (unreadable, not counted as lost). */
  value: string | null;
  /** ms between the acknowledgement and the disruption mark (negative: acknowledged before it). */
  ackedMsBeforeMark?: number;
  slot?: number;
}

/** Writers with and without WAIT 1 on unique keys; what was acknowledged is checked afterwards. */
export class Writer {
  readonly acked = { wait: [] as string[], plain: [] as string[] };
  /** When each key was acknowledged (ms since the epoch). */
  private readonly ackedAt = new Map<string, number>();
  /** The disruption (e.g. the crash) happened at this time; lost keys report their acknowledgement relative to it. */
  mark?: number;
  /** Keys not read back after the re-reads, with what the last read gave. */
  readonly details: LostDetail[] = [];
  /** Keys whose first read failed (an error, not nil) and that a re-read then found: what the old checker counted as lost. */
  recoveredOnReread = 0;
  errors = 0;
  private stopped = false;
  private loops: Promise<void>[] = [];
  private clients: Cluster[] = [];

  constructor(private readonly cluster: ProdCluster, private readonly tag: string) {}

  start(): this {
    for (const mode of ["wait", "plain"] as const) {
      const c = this.cluster.client();
      this.clients.push(c);
      this.loops.push(this.loop(c, mode));
    }
    return this;
  }

  private async loop(c: Cluster, mode: "wait" | "plain"): Promise<void> {
    for (let i = 0; !this.stopped && i < 1_000_000; i++) {
      const key = `w:${this.tag}:${mode}:${i}`;
      try {
        if (mode === "wait") {
          const res = await c.pipeline().set(key, key).call("WAIT", "1", "1000").exec();
          if (res && !res[0][0] && !res[1][0] && Number(res[1][1]) >= 1) {
            this.acked.wait.push(key);
            this.ackedAt.set(key, Date.now());
          } else if (res && res.some((x) => x[0])) this.errors++;
        } else {
          await c.set(key, key);
          this.acked.plain.push(key);
          this.ackedAt.set(key, Date.now());
        }
      } catch {
        this.errors++;
        await sleep(50);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // Bounded: a command stuck on a dead node ends with its commandTimeout.
    await Promise.race([Promise.allSettled(this.loops), sleep(10_000)]);
    for (const c of this.clients) c.disconnect();
  }

  /**
   * Acknowledged keys that do not read back (a fresh client on the current pods). A key that does not read back is
   * read again up to 4 more times, 1 s apart (the first read can race a slot map that is still settling); it counts as
   * lost only when a read answered that it does not exist (nil) or holds another value. A key whose every read failed
   * is unreadable: reported in `details` and `unreadable`, not counted as lost.
   */
  async lost(): Promise<NonNullable<Row["lost"]>> {
    const c = this.cluster.client();
    const read = (k: string) => c.get(k).then((v) => v, (e: Error) => `error: ${e.message}`);
    try {
      const check = async (keys: string[], mode: "wait" | "plain") => {
        let suspects: { key: string; value: string | null }[] = [];
        for (let i = 0; i < keys.length; i += 200) {
          const part = keys.slice(i, i + 200);
          const vals = await Promise.all(part.map(read));
          part.forEach((k, j) => vals[j] !== k && suspects.push({ key: k, value: vals[j] }));
        }
        for (let round = 0; round < 4 && suspects.some((x) => x.value?.startsWith("error: ")); round++) {
          await sleep(1000);
          const again = await Promise.all(suspects.map(async (x) => ({ key: x.key, value: x.value?.startsWith("error: ") ? await read(x.key) : x.value })));
          this.recoveredOnReread += again.filter((x) => x.value === x.key).length;
          suspects = again.filter((x) => x.value !== x.key);
        }
        for (const x of suspects) {
          const at = this.ackedAt.get(x.key);
          this.details.push({ key: x.key, mode, value: x.value, ackedMsBeforeMark: at !== undefined && this.mark !== undefined ? at - this.mark : undefined, slot: keySlot(x.key) });
        }
        return { lost: suspects.filter((x) => !x.value?.startsWith("error: ")).length, unreadable: suspects.filter((x) => x.value?.startsWith("error: ")).length };
      };
      const w = await check(this.acked.wait, "wait");
      const p = await check(this.acked.plain, "plain");
      return { wait: w.lost, plain: p.lost, ackedWait: this.acked.wait.length, ackedPlain: this.acked.plain.length, unreadable: w.unreadable + p.unreadable };
    } finally {
      c.disconnect();
    }
  }

  /** One line on the keys that did not read back: how many per mode and value, when they were acknowledged relative to the mark, their slots. */
  describeLost(): string {
    const reread = this.recoveredOnReread ? `; ${this.recoveredOnReread} read back only on a re-read (first read failed)` : "";
    if (!this.details.length) return `every acknowledged key read back${reread}`;
    const by = new Map<string, LostDetail[]>();
    for (const d of this.details) {
      const k = `${d.mode} ${d.value === null ? "nil" : d.value.startsWith("error: ") ? d.value.slice(0, 60) : "other value"}`;
      by.set(k, [...(by.get(k) ?? []), d]);
    }
    return [...by].map(([k, ds]) => {
      const ms = ds.map((d) => d.ackedMsBeforeMark).filter((x): x is number => x !== undefined);
      const range = ms.length ? ` acknowledged ${Math.min(...ms)}..${Math.max(...ms)} ms after the disruption began (negative: before)` : "";
      return `${ds.length} ${k}${range} (slots ${[...new Set(ds.map((d) => d.slot))].slice(0, 8).join(",")})`;
    }).join("; ") + reread;
  }
}

const lostText = (l: Row["lost"]) => (l ? `${l.wait}/${l.ackedWait} WAIT, ${l.plain}/${l.ackedPlain} plain${l.unreadable ? ` (${l.unreadable} unreadable)` : ""}` : "—");

/** The refresh-peers wait each pod's hook logged for unresolved names (seconds), from the redis containers' logs. */
async function hookWaits(c: ProdCluster): Promise<string> {
  const out: string[] = [];
  for (const p of c.present()) {
    const log = await c.runner.pods.get(p)!.logs("redis", 400).catch(() => "");
    const m = [...log.matchAll(/refresh-peers: not resolvable after (\d+) s/g)].pop();
    if (m) out.push(`${p.replace(`${STS}-`, "")}:${m[1]}s`);
  }
  return out.length ? `hook waited for absent names ${out.join(" ")}` : "no pod waited for a name";
}

const KEYS = 2000;

// ---- scenarios ----

/** The first `pulumi up`; `runner` may still be starting (a promise): the program's start overlaps with it. */
export async function firstDeploy(runnerOrStarting: PodsRunner | Promise<PodsRunner>, config: Record<string, ConfigInput>, root?: string): Promise<{ row: Row; cluster?: ProdCluster; up: UpResult }> {
  const t0 = Date.now();
  const wantJobs = (config["redis-cluster:smoke"] as { enabled?: boolean } | undefined)?.enabled === false ? 1 : 2;
  const up = await upOn(Promise.resolve(runnerOrStarting), { stack: STACK, config, root });
  const runner = await runnerOrStarting;
  const jobs = up.jobs.map((j) => `${j.name.replace(/-[0-9a-f]{8}$/, "")} ${j.reason} in ${(j.durationMs / 1000).toFixed(1)} s (${j.attempts.length} pod${j.attempts.length > 1 ? "s" : ""})`);
  const smokeLog = up.jobs.find((j) => j.name.includes("smoke"))?.attempts.at(-1)?.logTail ?? "";
  const checks = (smokeLog.trim().split("\n").filter((l) => /pass|fail/i.test(l)).slice(-1)[0] ?? "").replace(/ against .*$/, "");
  const row: Row = {
    scenario: "first deploy (bootstrap + smoke Jobs)",
    expected: "up ok: StatefulSet Ready, bootstrap Job Complete, smoke Job Complete",
    observed: up.run.ok
      ? `up ok; ${jobs.join("; ")}${checks ? `; smoke: ${checks}` : ""}`
      : `up failed: ${jobs.join("; ")}; ${up.run.errors.join(" | ").replace(/\s+/g, " ").slice(0, 500)}`,
    pass: up.run.ok && up.jobs.length >= wantJobs && up.jobs.every((j) => j.succeeded),
    timeToOkMs: Date.now() - t0,
    notes: [`not run (no operator): ${up.notRun.join(", ") || "none"}`],
  };
  // A failed smoke Job (its checks are timing-sensitive on a loaded host) fails this row; the scenarios still run on
  // the cluster when the bootstrap Job completed.
  if (!up.jobs.some((j) => j.name.includes("bootstrap") && j.succeeded)) return { row, up };
  const cluster = ProdCluster.fromUp(runner, up);
  await cluster.waitWhole(120_000);
  await cluster.writeKeys("base", KEYS);
  return { row, cluster, up };
}

/** Every pod stopped (graceful or crash), then started again with the given IPs; `late` pods come back after lateMs (or never when lateMs is Infinity). */
async function restartAll(c: ProdCluster, mode: "graceful" | "crash", ips: Record<string, string>, late: string[] = []): Promise<number> {
  const r = c.runner;
  const pods = c.pods();
  for (const p of pods) r.hold(p);
  await Promise.all(pods.map((p) => r.deletePod(p, mode)));
  const t = Date.now();
  for (const p of pods) if (!late.includes(p)) r.release(p, ips[p]);
  return t;
}

export async function gracefulFullRestart(c: ProdCluster): Promise<Row> {
  const old = Object.fromEntries(c.pods().map((p) => [p, c.ip(p)]));
  const t = await restartAll(c, "graceful", {});
  await c.runner.waitReady(c.pods(), 300_000).catch(() => undefined);
  const ms = await c.waitWhole(180_000).then(() => Date.now() - t).catch(() => undefined);
  const fresh = c.pods().filter((p) => c.ip(p) !== old[p]).length;
  const missing = await c.missingKeys("base", KEYS);
  return {
    scenario: "graceful full restart, all-new IPs",
    expected: "whole again by itself, every key there",
    observed: `${fresh}/6 pods on new IPs; ${ms !== undefined ? "whole" : "NOT whole"}; ${KEYS - missing.length}/${KEYS} keys`,
    pass: ms !== undefined && missing.length === 0 && fresh === 6,
    timeToOkMs: ms,
    notes: [await hookWaits(c)],
  };
}

export async function rollingRestart(c: ProdCluster): Promise<Row> {
  const w = new Writer(c, "roll").start();
  await sleep(2000);
  const t = Date.now();
  w.mark = t;
  const steps = await c.runner.rolloutRestart(STS, 300_000);
  const rollMs = Date.now() - t;
  await sleep(2000);
  await w.stop();
  const ms = await c.waitWhole(120_000).catch(() => undefined);
  const lost = await w.lost();
  const prestops = steps.filter((s) => s.preStop).length;
  return {
    scenario: "rolling restart (highest ordinal first, preStop, WAIT writer)",
    expected: "0 acknowledged writes lost; each pod Ready before the next",
    observed: `order ${steps.map((s) => s.pod.replace(`${STS}-`, "")).join(",")} in ${(rollMs / 1000).toFixed(0)} s; ${w.errors} write errors; preStop ran on ${prestops}/6 (${steps.filter((s) => /handing over/.test(s.preStop ?? "")).length} masters handed over)`,
    pass: lost.wait === 0 && lost.plain === 0 && ms !== undefined && steps.map((s) => s.pod).join() === [...c.pods()].reverse().join(),
    timeToOkMs: ms,
    lost,
    notes: [`writes: ${w.describeLost()}`],
  };
}

export async function forceDeletedMaster(c: ProdCluster): Promise<Row> {
  const [shard] = await c.shards();
  const w = new Writer(c, "force").start();
  await sleep(2000);
  const t = Date.now();
  w.mark = t;
  await c.runner.deletePod(shard.master, "force");
  await c.runner.waitReady(c.pods(), 180_000).catch(() => undefined);
  const ms = await c.waitWhole(120_000).then(() => Date.now() - t).catch(() => undefined);
  await sleep(1000);
  await w.stop();
  const lost = await w.lost();
  const after = (await c.shards()).map((s) => s.master);
  return {
    scenario: "force-deleted master (--grace-period=0 --force)",
    expected: "pod recreated on a new IP, rejoins; 0 WAIT-acknowledged writes lost",
    observed: `${shard.master.replace(`${STS}-`, "pod ")} killed, ${after.includes(shard.master) ? "still master after rejoining (back within node timeout)" : `replica ${shard.replica} took over`}; ${w.errors} write errors`,
    pass: ms !== undefined && lost.wait === 0,
    timeToOkMs: ms,
    lost,
    notes: [`writes: ${w.describeLost()}`],
  };
}

/** IPs of the present pods rotated among themselves; one master late by lateMs, then back on a new IP. */
export async function crashSwappedIpsLateMaster(c: ProdCluster, lateMs = 25_000): Promise<Row> {
  const [shard] = await c.shards();
  const m = shard.master;
  const others = c.pods().filter((p) => p !== m);
  const ips: Record<string, string> = {};
  others.forEach((p, i) => (ips[p] = c.ip(others[(i + 1) % others.length])));
  const w = new Writer(c, "swap").start();
  await sleep(2000);
  await w.stop();
  w.mark = Date.now();
  const t = await restartAll(c, "crash", ips, [m]);
  let released = 0;
  const watch = watchReplica(c, shard.replica!, () => released > 0 && Date.now() - released > 10_000);
  // Late = lateMs after the other five answer (their start is slow on a loaded host).
  await answering(c, others, 300_000);
  await sleep(lateMs);
  c.runner.release(m, freeIp(c));
  released = Date.now();
  const seen = await watch;
  const ms = await c.waitWhole(180_000).then(() => Date.now() - t).catch(() => undefined);
  const lost = await w.lost();
  const missing = await c.missingKeys("base", KEYS);
  return {
    scenario: `crash full restart, IPs rotated among 5 pods, a master late (${lateMs / 1000} s after the others answered)`,
    expected: "no node syncs from a wrong peer; whole after the late master; every key there",
    observed: `replica of the late master replicated from ${[...seen.hosts].join(",") || "nothing"}; ${seen.takeover ? "it took over while the master was late" : "it waited"}; ${KEYS - missing.length}/${KEYS} keys`,
    pass: ms !== undefined && missing.length === 0 && lost.wait === 0 && ![...seen.hosts].some((h) => !seen.allowed.has(h)),
    timeToOkMs: ms,
    lost,
    notes: [await hookWaits(c), `writes: ${w.describeLost()}`],
  };
}

/** Waits (bounded) until every pod of `pods` answers CLUSTER NODES. */
async function answering(c: ProdCluster, pods: string[], timeoutMs: number): Promise<number> {
  const t = Date.now();
  for (let i = 0; i < 1000 && Date.now() - t < timeoutMs; i++) {
    const vs = await Promise.all(pods.map((p) => c.view(p)));
    if (vs.every((v) => !v.error && v.nodes.length > 0)) break;
    await sleep(500);
  }
  return Date.now() - t;
}

/** An IP no pod holds now (from the top of the fixed range, away from the allocator's cursor). */
function freeIp(c: ProdCluster): string {
  const used = new Set(c.pods().map((p) => c.ip(p)));
  for (let i = 120; i >= 10; i--) if (!used.has(`${c.runner.prefix}.${i}`)) return `${c.runner.prefix}.${i}`;
  throw new Error("no free IP");
}

/** Edits redis.conf in the pods' ConfigMap (what `kubectl edit configmap` would do); pods created later mount it. */
export function editRedisConf(runner: PodsRunner, edit: (conf: string) => string): void {
  for (const [k, o] of runner.objects) if (k.startsWith("ConfigMap/") && typeof o.data?.["redis.conf"] === "string") o.data["redis.conf"] = edit(o.data["redis.conf"]);
}

/** Samples a replica's master_host while a scenario runs: the addresses it replicated from. */
async function watchReplica(c: ProdCluster, pod: string, done: () => boolean): Promise<{ hosts: Set<string>; allowed: Set<string>; takeover: boolean }> {
  const hosts = new Set<string>();
  const allowed = new Set<string>();
  let takeover = false;
  for (const t0 = Date.now(); Date.now() - t0 < 600_000 && !done(); ) {
    const v = await c.view(pod).catch(() => undefined);
    if (v && !v.error) {
      if (v.clusterRole === "master") takeover = true;
      if (v.masterHost && v.role === "slave") hosts.add(v.masterHost);
      // The address of whichever node is this replica's master by id, as its peers report it now.
      const me = v.nodes.find((n) => n[2].includes("myself"));
      const master = me ? v.nodes.find((n) => n[0] === me[3]) : undefined;
      const mPod = master ? c.pods().find((p) => c.runner.pods.get(p)?.ip === master[1].split(":")[0]) : undefined;
      if (mPod) allowed.add(c.ip(mPod));
    }
    await sleep(300);
  }
  return { hosts, allowed, takeover };
}

/**
 * A master absent after a crash (its pod held back). reuse: another shard's master comes back on its old IP.
 * Expected with clusterReplicaValidityFactor 0 (Pulumi.prod.yaml): the replica never replicates from the impostor and
 * takes over after the failure detection; the cluster is ok without the master; the master then rejoins as replica.
 */
export async function masterAbsent(c: ProdCluster, reuse: boolean, label?: string, expectTakeover = true, warmupMs = 3000): Promise<Row> {
  const shards = await c.shards();
  const [a, b] = shards;
  const m = a.master;
  const ips: Record<string, string> = {};
  if (reuse) ips[b.master] = c.ip(m);
  const mOldIp = c.ip(m);
  const w = new Writer(c, reuse ? "absent-reuse" : "absent").start();
  await sleep(warmupMs);
  w.mark = Date.now();
  const t = await restartAll(c, "crash", ips, [m]);
  await w.stop();
  // Without the master: does the rest become ok by itself (its replica promoted)?
  const others = c.pods().filter((p) => p !== m);
  let okWithoutMs: number | undefined;
  const hosts = new Set<string>();
  let readyWhileBroken = 0;
  let infoMasterSamples = 0;
  // The window opens once the other five answer (their start is slow on a loaded host), then lasts 90 s (45 s when no
  // takeover is expected).
  await answering(c, others, 300_000);
  const answeredMs = Date.now() - t;
  const windowMs = expectTakeover ? 90_000 : 45_000;
  for (const t0 = Date.now(); Date.now() - t0 < windowMs; ) {
    const views = await Promise.all(others.map((p) => c.view(p)));
    const rv = views.find((v) => v.pod === a.replica);
    if (rv?.masterHost && rv.role === "slave") hosts.add(rv.masterHost);
    // What the exporter shows of a replica whose master has no address: INFO role:master (RedisClusterExtraMaster).
    if (rv?.clusterRole === "slave" && rv.role === "master") infoMasterSamples++;
    const allOk = views.every((v) => v.state === "ok");
    const promoted = rv?.clusterRole === "master";
    // Readiness must not say Ready while a master holding slots is unreachable or noaddr in that pod's own view.
    for (const v of views) {
      const broken = v.nodes.some((n) => n[2].includes("master") && n.length > 8 && /noaddr|fail/.test(n[2]));
      if (broken && c.runner.pods.get(v.pod)?.ready) readyWhileBroken++;
    }
    if (allOk && promoted) {
      okWithoutMs = Date.now() - t;
      break;
    }
    await sleep(500);
  }
  c.runner.release(m, freeIp(c));
  const ms = await c.waitWhole(180_000).then(() => Date.now() - t).catch(() => undefined);
  const lost = await w.lost();
  const missing = await c.missingKeys("base", KEYS);
  const impostor = reuse && hosts.has(mOldIp);
  return {
    scenario: label ?? `master absent after a crash, ${reuse ? "its IP reused by another shard's master" : "its IP not reused"}`,
    expected: expectTakeover
      ? "replica never syncs from another node; replica takes over by itself; whole when the master returns"
      : "Redis refuses the takeover (data age): CLUSTERDOWN until the master returns",
    observed:
      `${impostor ? "replica REPLICATED FROM THE IMPOSTOR" : `replica replicated from ${[...hosts].join(",") || "nothing"}`}; ` +
      `others answered ${(answeredMs / 1000).toFixed(1)} s after the restart; ` +
      `${okWithoutMs !== undefined ? `ok without the master after ${(okWithoutMs / 1000).toFixed(1)} s (replica promoted)` : `not ok without the master ${windowMs / 1000} s after they answered`}; ` +
      `${readyWhileBroken} Ready samples while the pod's view had a master noaddr/fail; ${KEYS - missing.length}/${KEYS} keys`,
    pass: !impostor && (okWithoutMs !== undefined) === expectTakeover && ms !== undefined && missing.length === 0 && lost.wait === 0 && readyWhileBroken === 0,
    timeToOkMs: okWithoutMs,
    lost,
    notes: [
      await hookWaits(c),
      `replica said INFO role:master (noaddr master, no replication) in ${infoMasterSamples} samples`,
      ms !== undefined ? `whole with the master back ${(ms / 1000).toFixed(1)} s after the restart` : "not whole after the master came back",
      `writes: ${w.describeLost()}; absent master's slots ${a.slots ?? "?"}`,
    ],
  };
}

export function table(rows: Row[]): string {
  const head = "| scenario | expected | observed | time to ok | acked writes lost | result |\n| --- | --- | --- | --- | --- | --- |";
  const fmt = (ms?: number) => (ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`);
  return [head, ...rows.map((r) => `| ${r.scenario} | ${r.expected} | ${r.observed}${r.notes.length ? ` (${r.notes.join("; ")})` : ""} | ${fmt(r.timeToOkMs)} | ${lostText(r.lost)} | ${r.pass ? "pass" : "FAIL"} |`)].join("\n");
}
