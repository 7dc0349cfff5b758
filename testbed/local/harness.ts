import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, mkdirSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validateConfig, type ClusterSpec } from "../../infra/config/schema";
import { planCluster, nodeEnv, type ClusterPlan, type Placement } from "../../infra/plan/plan";
import { scriptPaths } from "../../infra/plan/scripts";
import { tlsEnv } from "../../infra/plan/tls";
import { freePorts } from "./ports";
import { LocalAcl, type LocalAclOptions } from "./acl";
import { nodeSans } from "../../infra/plan/tlsCertificates";
import { TestCa, type IssuedFiles } from "./tls";
import { Redis } from "ioredis";
import { sleep } from "../../smoke/time";

export interface LocalClusterOptions {
  /** A validated spec (e.g. from Pulumi.dev.yaml); otherwise one is built from `config`. */
  spec?: ClusterSpec;
  /** Raw stack-config overrides used when no spec is given (defaults: 3 masters x 1 replica, fast sync). */
  config?: Record<string, unknown>;
  masters?: number;
  replicasPerMaster?: number;
  nodeTimeoutMs?: number;
  /** Password for every node; it reaches redis-server through a mode-600 file and redis-cli through REDISCLI_AUTH. */
  password?: string;
  /** Restart a node whose process exits, as Docker's restart policy or the kubelet would. Default true. */
  restartOnExit?: boolean;
  /** Delay before such a restart. Default 250 ms; it doubles with each restart inside the budget window (at most 10 s). */
  restartDelayMs?: number;
  /**
   * At most `count` restarts of one node per `windowMs` (default 10 per 60 s). Past it the next restart waits until the
   * oldest one leaves the window: a crash-looping node is retried slowly, never given up for good.
   */
  restartBudget?: { count: number; windowMs: number };
  /** Called after the harness restarted a node (its pid changed), e.g. to record the new pid. */
  onRestart?: (node: LocalNode) => void;
  /** Command prefix for each node's process, e.g. ["ip", "netns", "exec", ns] to run it in a network namespace. */
  wrap?: (node: LocalNode) => string[];
  /** Run the bootstrap script after the nodes answer. Default true. */
  bootstrap?: boolean;
  /** Client ports (default: free ports found at random); bus ports are +10000. */
  ports?: number[];
  /** Loopback address of each node (default 127.0.0.1 for all). */
  hosts?: string[];
  /** Extra entrypoint environment per node (e.g. a peer-refresh hook). */
  extraEnv?: (node: LocalNode) => Record<string, string>;
  /** Keep the temp dir after stop() (debugging). */
  keepDir?: boolean;
  /** Upper bound for start + bootstrap. Default 120 s. */
  timeoutMs?: number;
  /** Called once the data folder exists, before any server starts. */
  onCreated?: (cluster: LocalCluster) => void;
  /**
   * TLS on every channel (default off): sets tls.enabled in the spec; a CA and per-node certificates are made with
   * openssl in the temp dir. redis-cli, the scripts and `tlsClient()` then use the client certificate.
   */
  tls?: { authClients?: "yes" | "no" | "optional" };
  /**
   * ACL users (default off): the nodes load the ACL file of infra/plan/acl.ts (`default` off unless said), replicas
   * authenticate as `replica`, redis-cli and the scripts as `admin` (password: `password`, else generated).
   */
  acl?: LocalAclOptions;
}

/** Files of a local TLS cluster: the CA, each node's certificate and the client certificate. */
export interface LocalTlsFiles {
  ca: string;
  nodes: IssuedFiles[];
  client: IssuedFiles;
  /** Issues a new certificate (new key, serial and subject `<name>-renewed-<n>`) to node i's paths, as a renewal does. */
  renewNode(i: number): IssuedFiles;
}

export interface LocalNode {
  index: number;
  name: string;
  host: string;
  port: number;
  busPort: number;
  dataDir: string;
  logFile: string;
  pid(): number | undefined;
  /** How often the harness restarted it after an exit. */
  restarts: number;
  /** When those restarts happened (ms since epoch), for the per-window budget. */
  restartTimes: number[];
}

export interface BootstrapResult {
  code: number | null;
  output: string;
  ms: number;
}

const DEFAULT_BUDGET = { count: 10, windowMs: 60_000 };
const MAX_BACKOFF_MS = 10_000;

export class LocalCluster {
  readonly nodes: LocalNode[] = [];
  readonly dir: string;
  readonly plan: ClusterPlan;
  /** Milliseconds from spawning the processes to bootstrap success (cluster_state:ok on all nodes). */
  startToOkMs?: number;
  private readonly procs = new Map<number, ChildProcess>();
  private readonly autoRestart = new Map<number, boolean>();
  private stopping = false;
  private readonly confPath: string;
  private readonly onExit = () => this.killAllSync();
  /** Set when the spec has TLS on. */
  readonly tls?: LocalTlsFiles;

  constructor(readonly spec: ClusterSpec, ports: number[], private readonly opts: LocalClusterOptions) {
    this.dir = mkdtempSync(join(tmpdir(), "redis-cluster-local-"));
    const placement: Placement = { kind: "local", ports, hosts: opts.hosts };
    this.plan = planCluster(spec, placement);
    this.confPath = join(this.dir, "redis.conf");
    writeFileSync(this.confPath, this.plan.redisConf);
    if (spec.tls.enabled) {
      const ca = new TestCa(join(this.dir, "tls"));
      const renewals = new Map<number, number>();
      const nodeFiles = this.plan.nodes.map((p) => ca.issue(p.name, p.name, nodeSans(spec, p, "local")));
      this.tls = {
        ca: ca.cert,
        nodes: nodeFiles,
        client: ca.issue("client", `${spec.name}-client`),
        renewNode: (i) => {
          const n = (renewals.get(i) ?? 0) + 1;
          renewals.set(i, n);
          const p = this.plan.nodes[i];
          return ca.issue(p.name, `${p.name}-renewed-${n}`, nodeSans(spec, { ...p, host: this.nodes[i]?.host ?? p.host }, "local"));
        },
      };
    }
    if (opts.acl) this.acl = new LocalAcl(join(this.dir, "acl"), spec, opts.acl, opts.password);
    for (const p of this.plan.nodes) {
      const dataDir = join(this.dir, p.name, "data");
      mkdirSync(dataDir, { recursive: true });
      const proc = () => this.procs.get(p.index);
      this.nodes.push({
        index: p.index, name: p.name, host: p.host, port: p.port, busPort: p.busPort, dataDir,
        logFile: join(this.dir, p.name, "redis.log"), restarts: 0, restartTimes: [], pid: () => proc()?.pid,
      });
    }
    process.once("exit", this.onExit);
  }

  /** Set with the `acl` option: users, passwords and their files. */
  readonly acl?: LocalAcl;

  get password(): string | undefined {
    return this.acl ? this.acl.passwords.admin : this.opts.password;
  }

  /** "host:port" of every node. */
  get seeds(): string[] {
    return this.nodes.map((n) => `${n.host}:${n.port}`);
  }

  /** Environment for redis-cli and the scripts: the password only as REDISCLI_AUTH. */
  cliEnv(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", LANG: "C" };
    if (this.opts.password) env.REDISCLI_AUTH = this.opts.password;
    if (this.acl) Object.assign(env, { REDIS_USER: "admin", REDISCLI_AUTH: this.acl.passwords.admin });
    if (this.tls) Object.assign(env, tlsEnv({ ca: this.tls.ca, ...this.tls.client }));
    return env;
  }

  /** redis-cli's TLS flags (client certificate), empty without TLS. */
  tlsArgs(): string[] {
    return this.tls ? ["--tls", "--cacert", this.tls.ca, "--cert", this.tls.client.cert, "--key", this.tls.client.key] : [];
  }

  /** ioredis/Node `tls` options of a client of this cluster (the client certificate), undefined without TLS. */
  tlsClient(): { ca: string; cert: string; key: string } | undefined {
    if (!this.tls) return undefined;
    return { ca: readFileSync(this.tls.ca, "utf8"), cert: readFileSync(this.tls.client.cert, "utf8"), key: readFileSync(this.tls.client.key, "utf8") };
  }

  /** Starts (or restarts) node i; `host` moves it to another loopback address (a pod with a new IP). */
  startNode(i: number, opts: { host?: string } = {}): void {
    const node = this.nodes[i];
    // After stop() began, a node started late (a timer of a test or bench) would outlive the cluster.
    if (this.stopping) throw new Error(`${node.name}: the cluster is stopping`);
    const running = this.procs.get(i);
    if (running && running.exitCode === null && running.signalCode === null) throw new Error(`${node.name} is already running`);
    if (opts.host) node.host = opts.host;
    const planned = { ...this.plan.nodes[i], host: node.host };
    const env = {
      ...this.cliEnv(),
      ...nodeEnv(planned, "local"),
      REDIS_CONF_TEMPLATE: this.confPath,
      REDIS_RUN_DIR: join(this.dir, node.name, "run"),
      REDIS_DATA_DIR: node.dataDir,
      // The node's own certificate (server, and client on the bus); cliEnv() holds the client certificate.
      ...(this.tls ? tlsEnv({ ca: this.tls.ca, ...this.tls.nodes[i] }) : {}),
      ...(this.acl?.nodeEnv() ?? {}),
      ...(this.opts.extraEnv?.(node) ?? {}),
    };
    const fd = openSync(node.logFile, "a");
    // The entrypoint execs redis-server, so this child's pid is the server's.
    const [cmd, ...args] = [...(this.opts.wrap?.(node) ?? []), "sh", scriptPaths.entrypoint];
    const child = spawn(cmd, args, { env, stdio: ["ignore", fd, fd] });
    closeSync(fd);
    this.procs.set(i, child);
    this.autoRestart.set(i, this.opts.restartOnExit ?? true);
    child.on("exit", () => {
      if (this.stopping || !this.autoRestart.get(i) || this.procs.get(i) !== child) return;
      setTimeout(() => {
        if (this.stopping || !this.autoRestart.get(i) || this.procs.get(i) !== child) return;
        node.restarts++;
        node.restartTimes.push(Date.now());
        this.startNode(i);
        this.opts.onRestart?.(node);
      }, this.restartDelay(node)).unref();
    });
  }

  /** Backoff within the budget window, and past the budget a wait until the oldest restart leaves the window. */
  private restartDelay(node: LocalNode): number {
    const { count, windowMs } = this.opts.restartBudget ?? DEFAULT_BUDGET;
    const now = Date.now();
    node.restartTimes = node.restartTimes.filter((t) => now - t < windowMs);
    const base = this.opts.restartDelayMs ?? 250;
    const backoff = Math.min(MAX_BACKOFF_MS, base * 2 ** node.restartTimes.length);
    if (node.restartTimes.length < count) return backoff;
    return Math.max(backoff, node.restartTimes[node.restartTimes.length - count] + windowMs - now);
  }

  /** Sends a signal (SIGKILL by default) and waits for the exit; with restartOnExit the node comes back by itself. */
  async kill(i: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.procs.get(i);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = waitExit(child, 10_000);
    child.kill(signal);
    await exited;
  }

  /** Freezes the process (SIGSTOP): it stays up but answers nothing, like a paused container. */
  freeze(i: number): void {
    this.procs.get(i)?.kill("SIGSTOP");
  }

  thaw(i: number): void {
    this.procs.get(i)?.kill("SIGCONT");
  }

  /** Stops node i (SIGTERM: Redis saves and exits) without an automatic restart. */
  async stopNode(i: number): Promise<void> {
    this.autoRestart.set(i, false);
    const child = this.procs.get(i);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGCONT");
    const exited = waitExit(child, 10_000);
    child.kill("SIGTERM");
    if (!(await exited)) {
      child.kill("SIGKILL");
      await waitExit(child, 5_000);
    }
  }

  /** Waits until node i answers PING (bounded). */
  async waitReady(i: number, timeoutMs = 15_000): Promise<void> {
    const n = this.nodes[i];
    const deadline = Date.now() + timeoutMs;
    for (let attempt = 0; Date.now() < deadline && attempt < 1000; attempt++) {
      if ((await this.tryAsk(i, "ping")) === "PONG") return;
      await sleep(100);
    }
    // The temp dir goes away with stop(): quote the end of the node's log in the error.
    let tail = "";
    try {
      tail = readFileSync(n.logFile, "utf8").trim().split("\n").slice(-5).join("\n");
    } catch {
      /* no log written */
    }
    throw new Error(`${n.name} (${n.host}:${n.port}) did not answer PING within ${timeoutMs} ms; last log lines:\n${tail}`);
  }

  /** Runs redis-cli against node i (password through REDISCLI_AUTH). */
  cli(i: number, args: string[]): { status: number | null; stdout: string; stderr: string } {
    const n = this.nodes[i];
    const r = spawnSync("redis-cli", [...(this.acl ? ["--user", "admin"] : []), ...this.tlsArgs(), "-h", n.host, "-p", String(n.port), ...args], { env: this.cliEnv(), encoding: "utf8", timeout: 10_000 });
    return { status: r.status, stdout: (r.stdout ?? "").replace(/\r/g, ""), stderr: r.stderr ?? "" };
  }

  private readonly conns = new Map<string, Redis>();
  /**
   * One command to node i over a kept connection, its reply as redis-cli prints it (arrays one element per line,
   * no \r): for polling loops, where a redis-cli process per call costs ~16 ms of CPU on these machines. Same user,
   * password and TLS as cli(). Rejects on an error reply, or when there is no connection or no reply within 2 s;
   * the connection is then re-made on the next call (a restarted node, a node on a new address).
   */
  async ask(i: number, ...args: (string | number)[]): Promise<string> {
    const n = this.nodes[i];
    const key = `${n.host}:${n.port}`;
    let r = this.conns.get(key);
    if (!r || r.status !== "ready") {
      r?.disconnect();
      const tls = this.tlsClient();
      r = new Redis({
        host: n.host, port: n.port, username: this.acl ? "admin" : undefined, password: this.password,
        tls, lazyConnect: true, connectTimeout: 2000, commandTimeout: 2000, maxRetriesPerRequest: 0,
        enableOfflineQueue: false, enableReadyCheck: false, protocol: 2, disableClientInfo: true, retryStrategy: () => null,
      });
      r.on("error", () => undefined); // surfaced by the command's rejection
      this.conns.set(key, r);
      await r.connect();
    }
    const reply = await r.call(String(args[0]), ...args.slice(1).map(String));
    const text = (v: unknown): string => (Array.isArray(v) ? v.map(text).join("\n") : v === null ? "" : String(v));
    return text(reply).replace(/\r/g, "");
  }

  /** ask() that answers "" instead of rejecting: a node that is down simply does not match what a loop waits for. */
  async tryAsk(i: number, ...args: (string | number)[]): Promise<string> {
    return this.ask(i, ...args).catch(() => "");
  }

  /** Runs the same bootstrap script the containers run; `onOutput` sees its output as it comes (to act at a step). */
  runBootstrap(extraEnv: Record<string, string> = {}, onOutput?: (text: string) => void): Promise<BootstrapResult> {
    const started = Date.now();
    const env = {
      ...this.cliEnv(),
      ...this.plan.bootstrapEnv,
      REDIS_NODES: this.seeds.join(" "),
      BOOTSTRAP_TIMEOUT: String(Math.ceil((this.opts.timeoutMs ?? 120_000) / 1000)),
      ...extraEnv,
    };
    // The script bounds itself (BOOTSTRAP_TIMEOUT); this timer also covers a redis-cli stuck on a frozen node.
    const limitMs = (Number(env.BOOTSTRAP_TIMEOUT) + 15) * 1000;
    return new Promise((resolve) => {
      const child = spawn("sh", [scriptPaths.bootstrap], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
      let output = "";
      const take = (d: Buffer) => {
        output += d;
        onOutput?.(String(d));
      };
      child.stdout.on("data", take);
      child.stderr.on("data", take);
      const timer = setTimeout(() => {
        output += `\nharness: bootstrap killed after ${limitMs} ms`;
        try {
          process.kill(-child.pid!, "SIGKILL"); // the whole group: sh and its redis-cli children
        } catch {
          /* already gone */
        }
      }, limitMs);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code, output, ms: Date.now() - started });
      });
    });
  }

  async start(): Promise<void> {
    const t0 = Date.now();
    // One deadline for all nodes, not a full timeout each.
    const deadline = t0 + (this.opts.timeoutMs ?? 120_000);
    for (let i = 0; i < this.nodes.length; i++) this.startNode(i);
    for (let i = 0; i < this.nodes.length; i++) await this.waitReady(i, Math.max(1000, deadline - Date.now()));
    if (this.opts.bootstrap ?? true) {
      const r = await this.runBootstrap();
      if (r.code !== 0) throw new Error(`bootstrap failed (exit ${r.code}):\n${r.output}`);
      this.startToOkMs = Date.now() - t0;
    }
  }

  /** Stops every node and removes the temp dir; safe to call twice. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const r of this.conns.values()) r.disconnect();
    this.conns.clear();
    await Promise.all(this.nodes.map((_, i) => this.stopNode(i)));
    process.removeListener("exit", this.onExit);
    if (!this.opts.keepDir) rmSync(this.dir, { recursive: true, force: true });
  }

  /** SIGKILLs every node at once (exit hooks, emergencies); stop() is the orderly way. */
  killAllSync(): void {
    for (const c of this.procs.values()) {
      try {
        c.kill("SIGKILL");
      } catch {
        /* already gone */
      }
    }
  }
}

function waitExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), timeoutMs);
    child.once("exit", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Fails with install instructions when the Redis binaries are missing (never a silent skip). */
export function requireRedisBinaries(): void {
  for (const bin of ["redis-server", "redis-cli"]) {
    const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
    if (r.error || r.status !== 0) {
      throw new Error(`${bin} is not installed: run \`npm run setup:system\` (Debian: apt-get install redis-server redis-tools)`);
    }
  }
}

/** Spec for a local cluster: test-friendly defaults unless a spec is given. */
export function localSpec(opts: LocalClusterOptions): ClusterSpec {
  if (opts.spec) return opts.spec;
  return validateConfig(
    {
      masters: opts.masters ?? 3,
      replicasPerMaster: opts.replicasPerMaster ?? 1,
      nodeTimeoutMs: opts.nodeTimeoutMs ?? 2000,
      // Replicas sync at once instead of after 5 s: a fresh replica that never synced cannot take over.
      replDisklessSyncDelay: 0,
      enableDebugCommand: "yes",
      ...(opts.tls ? { tls: { enabled: true, authClients: opts.tls.authClients ?? "optional" } } : {}),
      ...(opts.acl ? { acl: { defaultUser: opts.acl.defaultUser ?? "off", users: (opts.acl.users ?? []).map(({ password: _p, ...u }) => u) } } : {}),
      ...opts.config,
    },
    { name: "local" },
  );
}

/** Starts a local cluster from the shared plan; always `await c.stop()` in a finally/after. */
export async function startLocalCluster(opts: LocalClusterOptions = {}): Promise<LocalCluster> {
  requireRedisBinaries();
  const spec = localSpec(opts);
  const count = spec.masters * (1 + spec.replicasPerMaster);
  const ports = opts.ports ?? (await freePorts(count, { withBus: true }));
  const cluster = new LocalCluster(spec, ports, opts);
  try {
    opts.onCreated?.(cluster);
    await cluster.start();
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}
