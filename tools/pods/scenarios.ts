// Restart scenarios of the prod pods on the pods runner (./runner.ts), each judged from what the nodes and clients
// observed: every node's own view (state, addresses, links, flags), a history of acknowledged writes (with WAIT 1 and
// without) checked after the scenario, and the time until the cluster was whole again. `npm run pods:scenarios`
// runs them all on one deployment and prints one table row per scenario; the short test runs two of them.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import Redis, { Cluster } from "ioredis";
import keySlot = require("cluster-key-slot");
import { upOn, type PodsRunner, type TimelineEvent, type UpResult } from "../../testbed/pods/runner";
import { startWriter, type WriterResult } from "../../testbed/workload/application";
import { unwrapSecrets } from "../../testbed/engine/values";
import type { ConfigInput } from "../../testbed/engine/engine";

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
  /** `password`: admin's (or the only) password; a rotation scenario sets the new one once its up is done. */
  constructor(readonly runner: PodsRunner, public password: string, readonly auth: ClientAuth = {}) {}

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

  /** TLS options of host clients (the clients' certificate, the cluster's CA, no host-name check: pod IPs, as the Jobs). */
  get tlsOptions(): { tls?: object } {
    const t = this.auth.tls;
    return t ? { tls: { ca: t.ca, cert: t.cert, key: t.key, checkServerIdentity: () => undefined } } : {};
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

  /** A cluster client as admin, or as another ACL user (`as`: an application's user and password). */
  client(as?: { username: string; password: string }): Cluster {
    const c = new Cluster(this.present().map((p) => ({ host: this.ip(p), port: 6379 })), {
      redisOptions: { ...this.clientOptions, ...(as ?? {}), connectTimeout: 2000, commandTimeout: 3000 },
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
          } else if (res && res.some((x) => x[0])) {
            this.errors++;
            this.noteError(mode, res.find((x) => x[0])![0]!.message);
          }
        } else {
          await c.set(key, key);
          this.acked.plain.push(key);
          this.ackedAt.set(key, Date.now());
        }
      } catch (e) {
        this.errors++;
        this.noteError(mode, (e as Error).message);
        await sleep(50);
      }
    }
  }

  /** Failed commands by writer and message (numbers and addresses folded), for a row's notes. */
  readonly errorKinds = new Map<string, number>();
  private noteError(mode: "wait" | "plain", message: string): void {
    const k = `${mode}: ${message.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, "<addr>").replace(/\b\d+\b/g, "N").slice(0, 100)}`;
    this.errorKinds.set(k, (this.errorKinds.get(k) ?? 0) + 1);
  }
  describeErrors(): string {
    return [...this.errorKinds].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, n]) => `${n}× ${k}`).join("; ");
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
    notes: [`writes: ${w.describeLost()}`, ...(w.errors ? [`write errors: ${w.describeErrors()}`] : [])],
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

/** What was going on at `at` by the runner's timeline: the Jobs running, pods being replaced or not Ready, else the last step. */
export function contextAt(timeline: TimelineEvent[], at: number, sts = STS): string {
  const jobs = new Set<string>();
  const pods = new Map<string, string>();
  let lastStep = "";
  for (const e of timeline) {
    if (e.at > at) break;
    const short = e.name.replace(`${sts}-`, "").replace(/-[0-9a-f]{8}$/, "");
    if (e.kind === "job") {
      if (e.what === "start") jobs.add(short);
      else jobs.delete(short);
    } else if (e.kind === "pod") {
      if (/^delete/.test(e.what) || e.what.startsWith("rolling update: delete")) pods.set(short, "stopping (preStop, SIGTERM)");
      else if (/^gone/.test(e.what) || e.what === "rolling update: deleted") pods.set(short, "gone");
      else if (e.what === "create") pods.set(short, "starting");
      else if (e.what === "not Ready") pods.set(short, pods.get(short) === "stopping (preStop, SIGTERM)" ? pods.get(short)! : "not Ready");
      else if (e.what.startsWith("Ready") || e.what === "rolling update: replacement Ready") pods.delete(short);
    } else if (e.what.endsWith("done") || e.what.endsWith("failed")) lastStep = `after step ${short} ${e.what}`;
    else lastStep = `step ${short} ${e.what}`;
  }
  const parts = [...[...jobs].map((j) => `Job ${j} running`), ...[...pods].map(([p, st]) => `pod ${p} ${st}`)];
  return parts.length ? parts.join(", ") : lastStep || "before any step";
}

/**
 * Password rotation through `pulumi up` with a client writing throughout: a second up of the deployed stack with
 * admin's password changed (the program: rotate-add Job, the StatefulSet rolls one pod at a time, bootstrap/scale
 * verify, rotate-remove, smoke Job with its old-passwords check). The client is an application as ACL user `smoke`
 * (keys smoke:*) over TLS with the stack's client certificate, one SET at a time (test/helpers/writer.ts). Every error
 * is placed on the runner's timeline (which Job ran, which pod was being replaced). At the end: the old passwords must
 * be refused (WRONGPASS) on every pod. `rotateSmoke`: the smoke user's password changes too (configured, secret), and
 * the application switches as one that re-reads its Secret would: once rotate-add is Complete (both passwords valid
 * from then until rotate-remove) its writer stops and a new client with the new password takes over.
 * `prev`: the up this one follows (its engine state and outputs); `config`: that up's config.
 */
export async function passwordRotation(
  c: ProdCluster,
  prev: UpResult,
  config: Record<string, ConfigInput>,
  root?: string,
  opts: { rotateSmoke?: boolean } = {},
): Promise<{ row: Row; up?: UpResult; config: Record<string, ConfigInput> }> {
  const runner = c.runner;
  const out = unwrapSecrets<Record<string, any>>(prev.run.outputs);
  const smokePassword: string | undefined = out.aclPasswords?.smoke;
  if (!smokePassword) throw new Error("rotation: no smoke user's password among the stack outputs (aclPasswords.smoke): ACL users off?");
  const old = c.password;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const gen = () => [...randomBytes(32)].map((b) => alphabet[b % alphabet.length]).join("");
  const next = gen();
  const nextSmoke = opts.rotateSmoke ? gen() : smokePassword;
  const upConfig: Record<string, ConfigInput> = {
    ...config,
    "redis-cluster:password": { secret: next },
    ...(opts.rotateSmoke ? { "redis-cluster:acl": { secret: JSON.stringify({ passwords: { smoke: nextSmoke } }) } } : {}),
  };
  const load0 = loadavg().map((x) => x.toFixed(2)).join(" ");
  const jobsBefore = runner.jobs.length;
  const timelineFrom = runner.timeline.length;
  const w1 = startWriter(c.client({ username: "smoke", password: smokePassword }), "smoke:rotation:");
  await sleep(2000);
  const t0 = Date.now();
  runner.mark("step", "rotation-up", "start");
  let up: UpResult | undefined;
  let upDone = false;
  // The application's switch to its new password (rotateSmoke): after rotate-add, before rotate-remove.
  let r1: WriterResult | undefined;
  let w2: ReturnType<typeof startWriter> | undefined;
  let switchAt: number | undefined;
  let switchMs: number | undefined;
  const switcher = (async () => {
    if (!opts.rotateSmoke) return;
    for (let i = 0; i < 20_000 && !upDone; i++) {
      if (runner.timeline.slice(timelineFrom).some((e) => e.kind === "job" && /rotate-add/.test(e.name) && e.what === "Complete")) {
        switchAt = Date.now();
        r1 = await w1.stop();
        w2 = startWriter(c.client({ username: "smoke", password: nextSmoke }), "smoke:rotation:");
        switchMs = Date.now() - switchAt;
        runner.mark("step", "application", "switched to the new smoke password");
        return;
      }
      await sleep(50);
    }
  })();
  let written: WriterResult;
  try {
    up = await upOn(Promise.resolve(runner), { stack: STACK, config: upConfig, priorState: prev.state, root });
  } finally {
    upDone = true;
    await switcher;
    runner.mark("step", "rotation-up", "end");
    await sleep(2000);
    const last = await (w2 ?? w1).stop();
    written = r1 ? mergeWriters(r1, last) : last;
  }
  const upMs = Date.now() - t0;
  const load1 = loadavg().map((x) => x.toFixed(2)).join(" ");
  if (up.run.ok) c.password = next;
  const timeline = runner.timeline.slice(timelineFrom);
  const rel = (at: number) => `${((at - t0) / 1000).toFixed(1)} s`;

  // Errors grouped by message and what was happening (first and last time of each group).
  const groups = new Map<string, number[]>();
  written.errors.forEach((m, i) => {
    const k = `${m.replace(/\s+/g, " ").slice(0, 120)} | ${contextAt(timeline, written.errorAt[i])}`;
    groups.set(k, [...(groups.get(k) ?? []), written.errorAt[i]]);
  });
  const errorText = [...groups].map(([k, ats]) => `${ats.length}× "${k.split(" | ")[0]}" at ${rel(ats[0])}${ats.length > 1 ? `..${rel(ats[ats.length - 1])}` : ""} (${k.split(" | ")[1]})`);
  const slowest = written.slow.reduce<{ at: number; ms: number } | undefined>((a, x) => (!a || x.ms > a.ms ? x : a), undefined);
  const slowAbove1s = written.slow.filter((x) => x.ms >= 1000);

  // Steps of the up in order: Jobs (with duration) and the roll.
  const jobs = runner.jobs.slice(jobsBefore);
  const jobStarts = timeline.filter((e) => e.kind === "job" && e.what === "start");
  const jobText = jobs.map((j) => {
    const st = jobStarts.find((e) => e.name === j.name);
    return `${j.name.replace(`${STS}-`, "").replace(/-[0-9a-f]{8}$/, "")} ${j.reason} (${st ? `started at ${rel(st.at)}, ` : ""}took ${(j.durationMs / 1000).toFixed(1)} s)`;
  });
  const rolled = timeline.filter((e) => e.what === "rolling update: delete (graceful)");
  const readyAgain = timeline.filter((e) => e.what === "rolling update: replacement Ready");
  const rollText = rolled.length
    ? `roll ${rolled.map((e) => e.name.replace(`${STS}-`, "")).join(",")} from ${rel(rolled[0].at)} to ${readyAgain.length ? rel(readyAgain[readyAgain.length - 1].at) : "?"}`
    : "no pod replaced";
  // The writer kept writing through each replacement: acknowledged writes in the seconds from the pod's delete to its
  // replacement's Ready, and the lowest count of any whole second of the up.
  const okIn = (a: number, b: number) => {
    let n = 0;
    for (let i = Math.floor((a - written.startedAt) / 1000); i <= Math.floor((b - written.startedAt) / 1000); i++) n += written.okPerSecond[i] ?? 0;
    return n;
  };
  const perPod = rolled.map((e) => {
    const end = readyAgain.find((x) => x.name === e.name && x.at >= e.at)?.at ?? e.at;
    return `${e.name.replace(`${STS}-`, "")}:${okIn(e.at, end)} in ${((end - e.at) / 1000).toFixed(1)} s`;
  });
  const upSeconds = written.okPerSecond.slice(Math.ceil((t0 - written.startedAt) / 1000), Math.floor((t0 + upMs - written.startedAt) / 1000));
  const sorted = [...upSeconds].sort((a, b) => a - b);
  const rateText = sorted.length ? `writes per second during the up: min ${sorted[0]}, median ${sorted[Math.floor(sorted.length / 2)]}, max ${sorted[sorted.length - 1]}` : "";
  const preStops = timeline.filter((e) => e.what.startsWith("preStop"));
  const handedOver = preStops.filter((e) => /handing over/.test(e.what)).length;

  // Admin's old password on every pod: an unauthenticated TLS connection, AUTH admin <old> must answer WRONGPASS.
  const refused: string[] = [];
  const accepted: string[] = [];
  const newRefused: string[] = [];
  for (const p of c.pods()) {
    // As the smoke test's unauthenticated probe: no ready check (INFO would get NOAUTH and close the connection),
    // no CLIENT SETINFO, RESP2.
    const r = new Redis({
      host: c.ip(p), port: 6379, ...c.tlsOptions, lazyConnect: true, enableReadyCheck: false, disableClientInfo: true, protocol: 2,
      maxRetriesPerRequest: 0, connectTimeout: 3000, commandTimeout: 3000, retryStrategy: () => null,
    } as any);
    let cause = "";
    r.on("error", (e: Error) => (cause = e.message));
    try {
      await r.connect();
      const a = await r.call("AUTH", "admin", old).then((x) => `accepted: ${x}`, (e: Error) => e.message);
      const b = await r.call("AUTH", "admin", next).then((x) => String(x), (e: Error) => e.message);
      const sa = opts.rotateSmoke ? await r.call("AUTH", "smoke", smokePassword).then((x) => `smoke accepted: ${x}`, (e: Error) => e.message) : "WRONGPASS";
      const sb = opts.rotateSmoke ? await r.call("AUTH", "smoke", nextSmoke).then((x) => String(x), (e: Error) => e.message) : "OK";
      if (/WRONGPASS/.test(a) && /WRONGPASS/.test(sa)) refused.push(p);
      else accepted.push(`${p.replace(`${STS}-`, "pod ")}: ${/WRONGPASS/.test(a) ? sa.slice(0, 80) : a.slice(0, 80)}`);
      if (b !== "OK" || sb !== "OK") newRefused.push(`${p.replace(`${STS}-`, "pod ")}: ${b !== "OK" ? b.slice(0, 80) : `smoke: ${sb.slice(0, 80)}`}`);
    } catch (e) {
      accepted.push(`${p.replace(`${STS}-`, "pod ")}: no answer (${(e as Error).message.slice(0, 60)}${cause ? `; ${cause.slice(0, 80)}` : ""})`);
    } finally {
      r.disconnect();
    }
  }
  const smoke = jobs.find((j) => j.name.includes("smoke"));
  const smokeLog = smoke?.attempts.at(-1)?.logTail ?? "";
  const oldPw = /^old-passwords\s+(\S+)\s+(.*)$/m.exec(smokeLog);
  const summary = (smokeLog.trim().split("\n").filter((l) => /Smoke test (PASSED|FAILED)/.test(l)).slice(-1)[0] ?? "").replace(/ against .*$/, "");
  const smokeOk = !!smoke?.succeeded && /PASSED/.test(summary) && oldPw?.[1] === "PASS";
  const detail = {
    upMs, ok: up.run.ok, writes: written.ok + written.errors.length, ok_writes: written.ok, errors: written.errors.map((m, i) => ({ at: rel(written.errorAt[i]), message: m, context: contextAt(timeline, written.errorAt[i]) })),
    slow: written.slow.map((x) => ({ at: rel(x.at), ms: x.ms, context: contextAt(timeline, x.at - x.ms) })),
    timeline: timeline.map((e) => `${rel(e.at)} ${e.kind} ${e.name} ${e.what}`),
    okPerSecondFromUpStart: written.okPerSecond.slice(Math.max(0, Math.floor((t0 - written.startedAt) / 1000))),
  };
  runner.env.log(`rotation detail: ${JSON.stringify(detail)}`);
  const row: Row = {
    scenario: opts.rotateSmoke
      ? "password rotation of admin and the application's user: another `pulumi up` with admin's and smoke's passwords changed, the application (user smoke, TLS, one SET at a time) switching to its new password after rotate-add"
      : "password rotation: second `pulumi up` with admin's password changed, an application writing throughout (user smoke, TLS, one SET at a time)",
    expected: `up ok; 0 failed client requests; ${opts.rotateSmoke ? "admin's and smoke's old passwords" : "admin's old password"} refused (WRONGPASS) on every pod; smoke Job passes its old-passwords check`,
    observed:
      `${up.run.ok ? "up ok" : `up FAILED: ${up.run.errors.join(" | ").replace(/\s+/g, " ").slice(0, 400)}`} in ${(upMs / 1000).toFixed(1)} s; ` +
      `${written.ok + written.errors.length} writes, ${written.errors.length} failed${errorText.length ? `: ${errorText.join("; ")}` : ""}; ` +
      `slowest write ${slowest ? `${slowest.ms} ms ending at ${rel(slowest.at)} (${contextAt(timeline, slowest.at - slowest.ms)})` : "< 100 ms"}, ${written.slow.length} writes ≥ 100 ms, ${slowAbove1s.length} ≥ 1 s; ` +
      `${opts.rotateSmoke && switchAt !== undefined ? `application switched at ${rel(switchAt)} (its old client stopped, the new one started in ${switchMs} ms); ` : opts.rotateSmoke ? "application never switched (no rotate-add Complete); " : ""}` +
      `old ${opts.rotateSmoke ? "admin and smoke passwords" : "admin password"} refused on ${refused.length}/${c.pods().length} pods${accepted.length ? ` (NOT: ${accepted.join("; ")})` : ""}, ` +
      `${newRefused.length ? `new one refused: ${newRefused.join("; ")}` : "new one accepted on every pod that answered"}; ` +
      `smoke Job ${smoke ? `${smoke.reason}: ${summary || "no summary line"}; old-passwords ${oldPw ? `${oldPw[1]} ${oldPw[2]}` : "line not found"}` : "did not run"}`,
    pass: up.run.ok && written.errors.length === 0 && accepted.length === 0 && newRefused.length === 0 && refused.length === c.pods().length && smokeOk && (!opts.rotateSmoke || switchAt !== undefined),
    timeToOkMs: upMs,
    notes: [
      `steps: ${jobText.join(", ")}; ${rollText}; preStop ran on ${preStops.length} (${handedOver} masters handed over)`,
      `writes acknowledged while each pod was replaced (delete to Ready): ${perPod.join(", ") || "—"}; ${rateText}`, `load average ${load0} at the start, ${load1} at the end`],
  };
  return { row, up, config: up.run.ok ? upConfig : config };
}

/** Two writers one after the other (an application that switched clients) as one result, per-second counts aligned to the first. */
function mergeWriters(a: WriterResult, b: WriterResult): WriterResult {
  const okPerSecond = [...a.okPerSecond];
  const shift = Math.floor((b.startedAt - a.startedAt) / 1000);
  b.okPerSecond.forEach((n, i) => {
    while (okPerSecond.length <= i + shift) okPerSecond.push(0);
    okPerSecond[i + shift] += n;
  });
  return { ok: a.ok + b.ok, errors: [...a.errors, ...b.errors], errorAt: [...a.errorAt, ...b.errorAt], slow: [...a.slow, ...b.slow], okPerSecond, startedAt: a.startedAt };
}

export function table(rows: Row[]): string {
  const head = "| scenario | expected | observed | time to ok | acked writes lost | result |\n| --- | --- | --- | --- | --- | --- |";
  const fmt = (ms?: number) => (ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`);
  return [head, ...rows.map((r) => `| ${r.scenario} | ${r.expected} | ${r.observed}${r.notes.length ? ` (${r.notes.join("; ")})` : ""} | ${fmt(r.timeToOkMs)} | ${lostText(r.lost)} | ${r.pass ? "pass" : "FAIL"} |`)].join("\n");
}
