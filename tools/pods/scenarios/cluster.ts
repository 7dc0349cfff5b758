// The deployed prod cluster as the scenarios see it from the runner's host: each pod's own view (state, addresses,
// links, flags), whether the cluster is whole, its shards, host clients, and the disruptions the scenarios share
// (every pod restarted, a pod held back and released on a free IP).
import Redis, { Cluster } from "ioredis";
import type { PodsRunner, UpResult } from "../../../testbed/pods/runner";
import type { Forward } from "../../../testbed/pods/serviceProxy";
import { unwrapSecrets } from "../../../testbed/engine/values";
import { sleep } from "../../../smoke/time";
import { countSlots, parseClusterNodes, parseInfo } from "../../../smoke/topology";

export const STACK = "prod";
export const STS = "redis-cluster-prod";
/** Keys written before the scenarios (prefix "base") and checked after the disruptive ones. */
export const KEYS = 2000;

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
  /**
   * `password`: admin's (or the only) password; a rotation scenario sets the new one once its up is done.
   * `service`: the client Service reached from the host (PodsRunner.forwardService): every cluster client seeds there.
   */
  constructor(readonly runner: PodsRunner, public password: string, readonly service: Forward, readonly auth: ClientAuth = {}) {}

  /**
   * What a host client needs, from the stack's outputs as an operator reads them: the password (`redisPassword`, else
   * after an up that failed once the cluster formed, the pods' Secret), `admin` when the stack has ACL users
   * (`aclSecretNames`), and the client certificate's Secret (`tlsClientSecretName`) when TLS is on.
   */
  static async fromUp(runner: PodsRunner, up: UpResult): Promise<ProdCluster> {
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
    // clientEndpoint: "<service>.<namespace>.svc.cluster.local:<port>", what an application is given.
    const m = /^([^.]+)\.([^.]+)\.svc\.cluster\.local:(\d+)$/.exec(String(out.clientEndpoint ?? ""));
    if (!m) throw new Error(`stack output clientEndpoint ${out.clientEndpoint} is not <service>.<namespace>.svc.cluster.local:<port>`);
    const service = await runner.forwardService(m[1], Number(m[3]), m[2]);
    return new ProdCluster(runner, pw, service, auth);
  }

  /** TLS options of host clients (the clients' certificate, the cluster's CA, no host-name check: pod IPs, as the Jobs). */
  get tlsOptions(): { tls?: object } {
    const t = this.auth.tls;
    return t ? { tls: { ca: t.ca, cert: t.cert, key: t.key, checkServerIdentity: () => undefined } } : {};
  }

  /** ioredis options of every host client: password, admin user, TLS against the cluster's CA (no host-name check: pod IPs, as the Jobs). */
  private get clientOptions(): { password: string; username?: string; tls?: object } {
    return { password: this.password, ...(this.auth.username ? { username: this.auth.username } : {}), ...this.tlsOptions };
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
        v.state = parseInfo((await r.cluster("INFO")) as string).cluster_state;
        v.nodes = ((await r.cluster("NODES")) as string).trim().split("\n").map((l) => l.split(" "));
        const repl = parseInfo((await r.info("replication")) as string);
        v.role = repl.role;
        v.linkUp = repl.master_link_status;
        v.masterHost = repl.master_host;
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
  /** Each master (pod name) with its replica, id, slot ranges as CLUSTER NODES prints them and how many slots they hold. */
  async shards(): Promise<{ master: string; replica?: string; masterId: string; slots?: string; slotCount: number }[]> {
    const byIp = new Map(this.pods().map((p) => [this.ip(p), p]));
    for (const p of this.present()) {
      const v = await this.view(p);
      if (v.error) continue;
      return v.nodes
        .filter((n) => n[2].includes("master") && n.length > 8)
        .map((n) => {
          const rep = v.nodes.find((x) => x[3] === n[0]);
          const slotCount = countSlots(parseClusterNodes(n.join(" "))[0]?.slots ?? []);
          return { master: byIp.get(n[1].split(":")[0])!, replica: rep ? byIp.get(rep[1].split(":")[0]) : undefined, masterId: n[0], slots: n.slice(8).join(" "), slotCount };
        });
    }
    throw new Error("no pod answers");
  }

  /**
   * A cluster client as admin, or as another ACL user (`as`: an application's user and password), seeded through the
   * client Service as an application is; it then talks to the pods at the addresses the cluster announces.
   */
  client(as?: { username: string; password: string }): Cluster {
    const c = new Cluster([{ host: this.service.host, port: this.service.port }], {
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


/** The refresh-peers wait each pod's hook logged for unresolved names (seconds), from the redis containers' logs. */
export async function hookWaits(c: ProdCluster): Promise<string> {
  const out: string[] = [];
  for (const p of c.present()) {
    const log = await c.runner.pods.get(p)!.logs("redis", 400).catch(() => "");
    const m = [...log.matchAll(/refresh-peers: not resolvable after (\d+) s/g)].pop();
    if (m) out.push(`${p.replace(`${STS}-`, "")}:${m[1]}s`);
  }
  return out.length ? `hook waited for absent names ${out.join(" ")}` : "no pod waited for a name";
}

/** Every pod stopped (graceful or crash), then started again with the given IPs; `late` pods come back after lateMs (or never when lateMs is Infinity). */
export async function restartAll(c: ProdCluster, mode: "graceful" | "crash", ips: Record<string, string>, late: string[] = []): Promise<number> {
  const r = c.runner;
  const pods = c.pods();
  for (const p of pods) r.hold(p);
  await Promise.all(pods.map((p) => r.deletePod(p, mode)));
  const t = Date.now();
  for (const p of pods) if (!late.includes(p)) r.release(p, ips[p]);
  return t;
}

/** Waits (bounded) until every pod of `pods` answers CLUSTER NODES. */
export async function answering(c: ProdCluster, pods: string[], timeoutMs: number): Promise<number> {
  const t = Date.now();
  for (let i = 0; i < 1000 && Date.now() - t < timeoutMs; i++) {
    const vs = await Promise.all(pods.map((p) => c.view(p)));
    if (vs.every((v) => !v.error && v.nodes.length > 0)) break;
    await sleep(500);
  }
  return Date.now() - t;
}

/** An IP no pod holds now (from the top of the fixed range, away from the allocator's cursor). */
export function freeIp(c: ProdCluster): string {
  const used = new Set(c.pods().map((p) => c.ip(p)));
  for (let i = 120; i >= 10; i--) if (!used.has(`${c.runner.prefix}.${i}`)) return `${c.runner.prefix}.${i}`;
  throw new Error("no free IP");
}

/** Edits redis.conf in the pods' ConfigMap (what `kubectl edit configmap` would do); pods created later mount it. */
export function editRedisConf(runner: PodsRunner, edit: (conf: string) => string): void {
  for (const [k, o] of runner.objects) if (k.startsWith("ConfigMap/") && typeof o.data?.["redis.conf"] === "string") o.data["redis.conf"] = edit(o.data["redis.conf"]);
}
