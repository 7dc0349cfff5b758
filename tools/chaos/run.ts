// One chaos run: the planned cluster (a stack file's plan, through the local harness) with every redis-server in its
// own network namespace, ioredis clients writing unique values (with WAIT 1 and without), a nemesis applying faults
// on a schedule, then the final state read back and everything judged by the checker. Every namespace, link, rule
// and process is removed at the end, also on failure (finally + process exit hooks); every loop is bounded.
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import calculateSlot = require("cluster-key-slot");
import { Cluster } from "ioredis";
import { LocalCluster, requireRedisBinaries, sleep } from "../../testbed/local/harness";
import { loadStackSpecFile } from "../../testbed/local/stackSpec";
import { PROJECT } from "../../infra/config/schema";
import { scriptPaths } from "../../infra/plan/scripts";
import { redisServersUnder } from "../../testbed/local/processes";
import { NetLab, requireNetAdmin } from "./netlab";
import { check, type FinalChecks, type FinalValues, type Verdict } from "../../testbed/workload/checker";
import type { FaultEvent, History, WriteOp } from "../../testbed/workload/history";

export const FAULTS = [
  "partition-master",
  "partition-master-and-clients",
  "partition-replica",
  "isolate-node",
  "kill-master",
  "pause-master",
  "full-restart",
  "partition-master-min-replicas",
  "isolate-replica-then-kill-master",
] as const;
export type FaultName = (typeof FAULTS)[number];

export interface ChaosOptions {
  /** Stack file whose plan is run (default Pulumi.dev.yaml). */
  stackFile?: string;
  /** Raw stack-config overrides (e.g. a shorter nodeTimeoutMs for the short run). */
  overrides?: Record<string, unknown>;
  /** Faults in order; the schedule repeats while `durationMs` allows (at least once). */
  faults: readonly FaultName[];
  /** Run the schedule again while the run is shorter than this. Default: once. */
  durationMs?: number;
  /** Kill the first bootstrap part-way and require the next run to finish the cluster. Default true. */
  killBootstrap?: boolean;
  /** How long a fault is held. Default 3x cluster-node-timeout. */
  holdMs?: number;
  /** Bound for the cluster to be whole again after a fault. Default 60 s + 6x node timeout. */
  recoverMs?: number;
  log?: (line: string) => void;
}

export interface ChaosResult {
  history: History;
  verdict: Verdict;
  /** Whatever of the namespaces, links, rules and processes could not be removed (must be empty). */
  leftovers: string[];
  nodeTimeoutMs: number;
  settings: Record<string, string | number>;
}

const ROOT = join(__dirname, "..", "..");
const PORT = 6379;

interface Topology {
  /** shard -> master node index; shard = rank of the master's first slot. */
  masterOf: number[];
  /** master node index -> replica node indexes. */
  replicasOf: Map<number, number[]>;
}

export async function runChaos(opts: ChaosOptions): Promise<ChaosResult> {
  requireNetAdmin();
  requireRedisBinaries();
  const log = opts.log ?? (() => undefined);
  const stale = NetLab.cleanupStale();
  if (stale.length) log(`removed leftovers of an earlier run: ${stale.join(", ")}`);
  const spec = loadStackSpecFile(opts.stackFile ?? join(ROOT, "Pulumi.dev.yaml"), `${PROJECT}-chaos`, opts.overrides ?? {});
  const count = spec.masters * (1 + spec.replicasPerMaster);
  const nodeTimeoutMs = spec.nodeTimeoutMs;
  const holdMs = opts.holdMs ?? 3 * nodeTimeoutMs;
  const recoverMs = opts.recoverMs ?? 60_000 + 6 * nodeTimeoutMs;
  const password = randomBytes(24).toString("base64url");
  const lab = new NetLab(count);
  let cluster: LocalCluster | undefined;
  const clients: Cluster[] = [];
  let stopWorkers = true;
  const emergency = () => {
    stopWorkers = true;
    for (const c of clients) c.disconnect();
    cluster?.killAllSync();
    lab.teardown();
  };
  const onSignal = (sig: NodeJS.Signals) => {
    emergency();
    process.exit(sig === "SIGINT" ? 130 : 143);
  };
  process.once("exit", emergency);
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const t0 = Date.now();
  const now = () => Date.now() - t0;
  const ops: WriteOp[] = [];
  const faults: FaultEvent[] = [];
  const leftovers: string[] = [];
  let result: ChaosResult | undefined;
  try {
    lab.create();
    log(`network lab ${lab.subnet} on bridge ${lab.bridge}; ${count} namespaces`);
    const c = new LocalCluster(spec, lab.nodeIps.map(() => PORT), {
      spec,
      password,
      hosts: lab.nodeIps,
      wrap: (n) => lab.wrap(n.index),
      restartOnExit: false,
      timeoutMs: 120_000,
    });
    cluster = c;
    const ip = (i: number) => lab.nodeIps[i];
    const cli = (i: number, args: string[], timeoutMs = 2000) => cliAsync(ip(i), PORT, password, args, timeoutMs);
    for (let i = 0; i < count; i++) c.startNode(i);
    for (let i = 0; i < count; i++) await c.waitReady(i, 60_000);

    // Formation, with the first bootstrap killed part-way (a Job killed by its deadline, a container stopped).
    if (opts.killBootstrap ?? true) {
      // Measured from the moment `redis-cli --cluster create` starts (slots, then MEET, then REPLICATE): the window
      // in which a kill leaves a half-made cluster.
      const killAt = 100 + Math.floor(Math.random() * 2500);
      const start = now();
      const note = await killedBootstrap(c, killAt);
      const healed = now();
      const r = await c.runBootstrap();
      const ok = r.code === 0;
      faults.push({ name: "bootstrap-killed", target: `bootstrap killed ${killAt} ms into the create`, start, healed, recovered: now(), recoveredOk: ok, notes: [note, `re-run: exit ${r.code}`] });
      if (!ok) throw new Error(`the bootstrap re-run after a killed one failed (exit ${r.code}):\n${r.output}`);
      log(`bootstrap killed ${killAt} ms into the create (${note}); re-run finished the cluster`);
    } else {
      const r = await c.runBootstrap();
      if (r.code !== 0) throw new Error(`bootstrap failed (exit ${r.code}):\n${r.output}`);
    }

    let topo = await topology(cli, count, lab);
    // Shards are fixed by slot ranges; their masters change with failovers.
    const firstSlots = await shardFirstSlots(cli, topo);
    const tags = firstSlots.map((slot, s) => hashTagFor(slot, s));

    // Clients: ioredis Clusters on the host side of the bridge, seeded with the namespaces' addresses only. WAIT blocks
    // its connection until the timeout, so WAIT and plain writers get separate clients (else plain writes queue behind it).
    const newClient = () => new Cluster(lab.nodeIps.map((host) => ({ host, port: PORT })), {
      maxRedirections: 16,
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 200,
      retryDelayOnTryAgain: 100,
      slotsRefreshTimeout: 1000,
      slotsRefreshInterval: 1000,
      clusterRetryStrategy: (times) => Math.min(100 * times, 1000),
      redisOptions: { password, connectTimeout: 1000, commandTimeout: 2000, maxRetriesPerRequest: 2 },
    });
    const client = newClient();
    const waitClient = newClient();
    for (const cl of [client, waitClient]) {
      cl.on("error", () => undefined);
      clients.push(cl);
    }
    stopWorkers = false;
    const runId = randomBytes(3).toString("hex");
    const workers: Promise<void>[] = [];
    let w = 0;
    for (let s = 0; s < tags.length; s++) {
      for (const mode of ["wait", "plain"] as const) {
        workers.push(worker(mode === "wait" ? waitClient : client, w++, s, mode, tags[s], runId, ops, now, () => stopWorkers));
      }
    }
    await sleep(2000);

    const schedule: FaultName[] = [];
    const deadline = opts.durationMs ?? 0;
    for (let round = 0; round < 20 && (round === 0 || now() + 60_000 < deadline); round++) {
      for (const f of opts.faults) {
        if (round > 0 && now() + 30_000 > deadline) break;
        schedule.push(f);
        const ev = await applyFault(f, schedule.length, { c, lab, cli, topo, count, holdMs, nodeTimeoutMs, now, spec });
        ev.recovered = ev.healed;
        const rec = await waitWhole(cli, count, recoverMs);
        ev.recovered = now();
        ev.recoveredOk = rec.ok;
        if (!rec.ok) ev.notes = [...(ev.notes ?? []), `not whole after ${recoverMs} ms: ${rec.why}`];
        faults.push(ev);
        log(`${ev.name} on ${ev.target}: held ${ev.healed - ev.start} ms, promotion ${ev.promotionMs ?? "-"} ms, whole again ${rec.ok ? `${ev.recovered - ev.healed} ms after heal` : "NO"}`);
        topo = await topology(cli, count, lab);
        await sleep(2000);
      }
    }

    stopWorkers = true;
    await Promise.race([Promise.all(workers), sleep(15_000)]);
    const durationMs = now();
    await waitWhole(cli, count, recoverMs);
    const final = await finalChecks(cli, count, lab, password);
    const values = await readBack(client, ops);
    const history: History = { shards: tags.length, ops, faults, durationMs };
    const verdict = check(history, values, final);
    result = {
      history,
      verdict,
      leftovers,
      nodeTimeoutMs,
      settings: {
        masters: spec.masters,
        replicasPerMaster: spec.replicasPerMaster,
        nodeTimeoutMs,
        minReplicasToWrite: spec.minReplicasToWrite,
        minReplicasMaxLag: spec.minReplicasMaxLag,
        clusterReplicaValidityFactor: spec.clusterReplicaValidityFactor,
        appendfsync: spec.appendfsync,
        holdMs,
      },
    };
  } finally {
    stopWorkers = true;
    for (const cl of clients) cl.disconnect();
    const dir = cluster?.dir;
    await cluster?.stop();
    leftovers.push(...lab.teardown(), ...lab.leftovers());
    if (dir) {
      for (const pid of redisServersUnder(dir)) leftovers.push(`redis-server pid ${pid}`);
    }
    process.removeListener("exit", emergency);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
  }
  // `leftovers` is the same array the result holds: filled by the teardown above.
  if (!result) throw new Error("chaos run ended without a result");
  return result;
}

function cliAsync(host: string, port: number, password: string, args: string[], timeoutMs: number): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile("redis-cli", ["-h", host, "-p", String(port), ...args], { env: { PATH: process.env.PATH, REDISCLI_AUTH: password }, timeout: timeoutMs, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}`.replace(/\r/g, "").trim() });
    });
  });
}
type Cli = (i: number, args: string[], timeoutMs?: number) => Promise<{ code: number; out: string }>;

const field = (text: string, name: string) => new RegExp(`^${name}:(.*)$`, "m").exec(text)?.[1]?.trim();

/**
 * Runs the bootstrap script and kills it (with its redis-cli children) `ms` after it starts creating the cluster (or
 * after 20 s in any case); says what it left behind.
 */
function killedBootstrap(c: LocalCluster, ms: number): Promise<string> {
  const env = { ...c.cliEnv(), ...c.plan.bootstrapEnv, REDIS_NODES: c.seeds.join(" "), BOOTSTRAP_TIMEOUT: "60" };
  return new Promise((resolve) => {
    const child = spawn("sh", [scriptPaths.bootstrap], { env, stdio: ["ignore", "ignore", "pipe"], detached: true });
    const kill = () => {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        /* gone */
      }
    };
    let timer = setTimeout(kill, 20_000);
    let err = "";
    let armed = false;
    child.stderr!.on("data", (d) => {
      err += d;
      if (!armed && /creating/.test(err)) {
        armed = true;
        clearTimeout(timer);
        timer = setTimeout(kill, ms);
      }
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      // What each node says of itself: slots held, role, how many nodes it knows.
      const selves = c.nodes.map((_, i) => c.cli(i, ["cluster", "nodes"]).stdout.split("\n").filter(Boolean).map((l) => l.split(" ")))
        .map((lines) => ({ known: lines.length, me: lines.find((f) => f[2]?.includes("myself")) ?? [] }));
      const withSlots = selves.filter((x) => x.me.length > 8).length;
      const replicas = selves.filter((x) => x.me[2]?.includes("slave")).length;
      const known = selves.map((x) => x.known).join("/");
      resolve(signal ? `killed: ${withSlots} nodes held slots, ${replicas} were replicas, nodes known per node ${known}` : `finished (exit ${code}) before the kill`);
    });
  });
}

async function topology(cli: Cli, count: number, lab: NetLab): Promise<Topology> {
  for (let attempt = 0; attempt < 20; attempt++) {
    for (let i = 0; i < count; i++) {
      const r = await cli(i, ["cluster", "nodes"]);
      if (r.code !== 0 || !r.out.includes("myself")) continue;
      const lines = r.out.split("\n").map((l) => l.split(" "));
      const idx = (addr: string) => lab.nodeIps.indexOf(addr.split("@")[0].split(":")[0]);
      const masters = lines.filter((f) => f[2].includes("master") && !f[2].includes("fail") && f.length > 8);
      masters.sort((a, b) => Number(a[8].split("-")[0]) - Number(b[8].split("-")[0]));
      const replicasOf = new Map<number, number[]>();
      for (const m of masters) replicasOf.set(idx(m[1]), lines.filter((f) => f[3] === m[0] && !f[2].includes("fail")).map((f) => idx(f[1])));
      if (masters.length > 0 && masters.every((m) => idx(m[1]) >= 0)) return { masterOf: masters.map((m) => idx(m[1])), replicasOf };
    }
    await sleep(500);
  }
  throw new Error("could not read the cluster topology from any node");
}

async function shardFirstSlots(cli: Cli, topo: Topology): Promise<number[]> {
  const out: number[] = [];
  for (const m of topo.masterOf) {
    const r = await cli(m, ["cluster", "nodes"]);
    const me = r.out.split("\n").find((l) => l.includes("myself"))!.split(" ");
    out.push(Number(me[8].split("-")[0]));
  }
  return out;
}

/** A hash tag whose slot is `slot`'s range owner's: searched by trying tags until one lands in the shard's first slot. */
function hashTagFor(slot: number, shard: number): string {
  for (let k = 0; k < 2_000_000; k++) {
    const tag = `s${shard}-${k}`;
    if (calculateSlot(tag) === slot) return tag;
  }
  throw new Error(`no hash tag found for slot ${slot}`);
}

async function worker(client: Cluster, id: number, shard: number, mode: "wait" | "plain", tag: string, runId: string, ops: WriteOp[], now: () => number, stopped: () => boolean) {
  for (let seq = 0; seq < 2_000_000 && !stopped(); seq++) {
    const key = `{${tag}}:${runId}:${id}:${seq}`;
    const value = `${runId}-${id}-${seq}-${now()}`;
    const op: WriteOp = { worker: id, shard, mode, key, value, start: now(), end: 0, outcome: "unknown" };
    ops.push(op);
    const attempt = (async () => {
      if (mode === "plain") {
        const r = await client.set(key, value);
        return { ok: r === "OK", replicas: undefined as number | undefined };
      }
      const res = await client.pipeline().set(key, value).wait(1, 1000).exec();
      const [setErr, setRes] = res?.[0] ?? [new Error("no reply"), null];
      if (setErr) throw setErr;
      const [waitErr, waitRes] = res?.[1] ?? [null, 0];
      return { ok: setRes === "OK", replicas: waitErr ? 0 : Number(waitRes) };
    })();
    const timeout = sleep(5000).then(() => "timeout" as const);
    try {
      const r = await Promise.race([attempt, timeout]);
      if (r === "timeout") {
        op.outcome = "unknown";
        op.error = "no answer within 5 s";
      } else {
        op.outcome = r.ok ? "ok" : "fail";
        op.replicas = r.replicas;
      }
    } catch (e) {
      const msg = (e as Error).message;
      // A timeout may have been applied; a refusal (CLUSTERDOWN, MOVED loop, NOREPLICAS...) was not.
      op.outcome = /timed? ?out|Connection is closed|ECONNRESET|EPIPE/i.test(msg) ? "unknown" : "fail";
      op.error = msg.slice(0, 120);
      attempt.catch(() => undefined);
    }
    op.end = now();
    await sleep(op.outcome === "ok" ? 10 : 100);
  }
}

interface FaultCtx {
  c: LocalCluster;
  lab: NetLab;
  cli: Cli;
  topo: Topology;
  count: number;
  holdMs: number;
  nodeTimeoutMs: number;
  now: () => number;
  spec: { minReplicasToWrite: number; minReplicasMaxLag: number };
}

async function applyFault(name: FaultName, n: number, x: FaultCtx): Promise<FaultEvent> {
  const { c, lab, topo, count, holdMs, now } = x;
  const shard = (n - 1) % topo.masterOf.length;
  const master = topo.masterOf[shard];
  const replica = topo.replicasOf.get(master)?.[0];
  const others = (i: number) => lab.nodeIps.filter((_, k) => k !== i);
  const label = (i: number) => `${c.nodes[i].name} (${lab.nodeIps[i]})`;
  const ev: FaultEvent = { name, target: "", shard, start: 0, healed: 0, recovered: 0, recoveredOk: false };
  // Promotion watch: the first moment any current replica of the target's shard calls itself master.
  let watching = false;
  const watch = async (replicas: number[]) => {
    watching = true;
    for (let k = 0; k < 1000 && watching; k++) {
      for (const r of replicas) {
        const role = await x.cli(r, ["role"], 800);
        if (role.code === 0 && role.out.startsWith("master") && ev.promotionMs === undefined) ev.promotionMs = now() - ev.start;
      }
      if (ev.promotionMs !== undefined) return;
      await sleep(200);
    }
  };
  const masterFault = async (apply: () => void | Promise<void>, heal: () => void | Promise<void>) => {
    ev.target = `${label(master)}, master of shard ${shard}`;
    ev.start = now();
    await apply();
    const w = watch(topo.replicasOf.get(master) ?? []);
    await sleep(holdMs);
    await heal();
    ev.healed = now();
    watching = false;
    await w;
  };
  switch (name) {
    case "partition-master":
      await masterFault(() => lab.cut(master, others(master)), () => lab.heal(master));
      ev.notes = ["clients still reach the master; the other nodes do not"];
      break;
    case "partition-master-and-clients":
      await masterFault(() => lab.cut(master, [...others(master), lab.hostIp]), () => lab.heal(master));
      break;
    case "partition-master-min-replicas": {
      // The knob under test, set at run time on every node as the stack config would set it in redis.conf.
      const set = async (to: number, lag: number) => {
        for (let i = 0; i < count; i++) await x.cli(i, ["config", "set", "min-replicas-to-write", String(to), "min-replicas-max-lag", String(lag)]);
      };
      await set(1, 2);
      await masterFault(() => lab.cut(master, others(master)), () => lab.heal(master));
      await set(x.spec.minReplicasToWrite, x.spec.minReplicasMaxLag);
      ev.notes = ["min-replicas-to-write 1, min-replicas-max-lag 2 during this fault"];
      break;
    }
    case "isolate-replica-then-kill-master": {
      // A replica cut off from everything for the hold, healed, the cluster whole again (by every check above), and
      // then its master killed -9: was the replica really caught up when it was promoted?
      const r = replica ?? 0;
      ev.target = `${label(r)}, replica in shard ${shard}, then its master ${label(master)}`;
      ev.start = now();
      lab.cut(r, [...others(r), lab.hostIp]);
      await sleep(holdMs);
      lab.heal(r);
      const rec = await waitWhole(x.cli, count, 60_000);
      ev.notes = [`whole again ${rec.ok ? "yes" : "no"} before the kill (${now() - ev.start} ms after the isolation began)`];
      await c.kill(master, "SIGKILL");
      const w = watch([r]);
      await sleep(holdMs);
      c.startNode(master);
      await c.waitReady(master, 30_000).catch(() => undefined);
      ev.healed = now();
      watching = false;
      await w;
      break;
    }
    case "partition-replica": {
      const r = replica ?? 0;
      ev.target = `${label(r)}, replica in shard ${shard}`;
      ev.start = now();
      lab.cut(r, others(r));
      await sleep(holdMs);
      lab.heal(r);
      ev.healed = now();
      break;
    }
    case "isolate-node": {
      const i = (n * 7) % count;
      ev.target = `${label(i)} (from every node and every client)`;
      const isMaster = topo.masterOf.includes(i);
      ev.shard = isMaster ? topo.masterOf.indexOf(i) : shard;
      ev.start = now();
      lab.cut(i, [...others(i), lab.hostIp]);
      const w = isMaster ? watch(topo.replicasOf.get(i) ?? []) : Promise.resolve();
      await sleep(holdMs);
      lab.heal(i);
      ev.healed = now();
      watching = false;
      await w;
      break;
    }
    case "kill-master":
      await masterFault(() => c.kill(master, "SIGKILL"), async () => {
        c.startNode(master);
        await c.waitReady(master, 30_000).catch(() => undefined);
      });
      ev.notes = ["kill -9, restarted after the hold with its data dir (AOF)"];
      break;
    case "pause-master":
      await masterFault(() => c.freeze(master), () => c.thaw(master));
      ev.notes = ["SIGSTOP for the hold, then SIGCONT"];
      break;
    case "full-restart": {
      ev.target = `all ${count} nodes (SIGTERM, then start)`;
      ev.shard = undefined;
      ev.start = now();
      await Promise.all(c.nodes.map((_, i) => c.stopNode(i)));
      for (let i = 0; i < count; i++) c.startNode(i);
      for (let i = 0; i < count; i++) await c.waitReady(i, 30_000).catch(() => undefined);
      ev.healed = now();
      break;
    }
  }
  return ev;
}

/** Whole: every node answers, sees cluster_state:ok with all slots, knows every node, no fail flags, replica links up. */
async function waitWhole(cli: Cli, count: number, boundMs: number): Promise<{ ok: boolean; why: string }> {
  const until = Date.now() + boundMs;
  let why = "";
  for (let k = 0; k < 10_000 && Date.now() < until; k++) {
    why = "";
    for (let i = 0; i < count && !why; i++) {
      const info = await cli(i, ["cluster", "info"]);
      if (field(info.out, "cluster_state") !== "ok" || field(info.out, "cluster_slots_ok") !== "16384" || field(info.out, "cluster_known_nodes") !== String(count)) {
        why = `node ${i}: ${info.out.split("\n").slice(0, 3).join(" ") || "no answer"}`;
        break;
      }
      const nodes = await cli(i, ["cluster", "nodes"]);
      if (/fail|handshake|noaddr/.test(nodes.out)) why = `node ${i} sees a failing node`;
      const repl = await cli(i, ["info", "replication"]);
      if (field(repl.out, "role") === "slave" && field(repl.out, "master_link_status") !== "up") why = `node ${i}: replica link ${field(repl.out, "master_link_status")}`;
      // A replica whose side says "up" may still not be acknowledging (seen after a healed isolation): the master's
      // view must show every replica online and acknowledging within 2 s.
      for (const m of repl.out.matchAll(/^slave\d+:(.*)$/gm)) {
        const state = /state=(\w+)/.exec(m[1])?.[1];
        const lag = Number(/lag=(\d+)/.exec(m[1])?.[1] ?? "99");
        if (state !== "online" || lag > 2) why = `node ${i}: replica ${/ip=([^,]+)/.exec(m[1])?.[1]} state=${state} lag=${lag}`;
      }
    }
    if (!why) why = await replicasCaughtUp(cli, count);
    if (!why) return { ok: true, why };
    await sleep(500);
  }
  return { ok: false, why };
}

/**
 * Every replica's acknowledged offset reaches what its master had written a moment before ("" if so). A replica can
 * be online and acknowledging every second while its offset stands still (seen for tens of seconds after a healed
 * isolation); only the offsets tell.
 */
async function replicasCaughtUp(cli: Cli, count: number): Promise<string> {
  const before = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const repl = (await cli(i, ["info", "replication"])).out;
    if (field(repl, "role") === "master") before.set(i, Number(field(repl, "master_repl_offset") ?? "0"));
  }
  await sleep(1500);
  for (const [i, offset] of before) {
    const repl = (await cli(i, ["info", "replication"])).out;
    for (const m of repl.matchAll(/^slave\d+:.*ip=([^,]+).*offset=(\d+)/gm)) {
      if (Number(m[2]) < offset) return `node ${i}: replica ${m[1]} acknowledged offset ${m[2]} < ${offset} written 1.5 s earlier`;
    }
  }
  return "";
}

async function finalChecks(cli: Cli, count: number, lab: NetLab, password: string): Promise<FinalChecks> {
  const cc = await cliAsync(lab.nodeIps[0], PORT, password, ["--cluster", "check", `${lab.nodeIps[0]}:${PORT}`], 60_000);
  const replicas: FinalChecks["replicas"] = [];
  for (let i = 0; i < count; i++) {
    const repl = await cli(i, ["info", "replication"]);
    if (field(repl.out, "role") !== "master") continue;
    const slaves = [...repl.out.matchAll(/^slave\d+:ip=([^,]+),port=(\d+)/gm)].map((m) => lab.nodeIps.indexOf(m[1]));
    for (const r of slaves) {
      let detail = "";
      let equal = false;
      // Caught up: the replica's offset equals the master's (writes have stopped), then the same data.
      for (let k = 0; k < 60 && !equal; k++) {
        const mo = field((await cli(i, ["info", "replication"])).out, "master_repl_offset");
        const ro = field((await cli(r, ["info", "replication"])).out, "slave_repl_offset");
        const [md, rd] = [(await cli(i, ["dbsize"])).out, (await cli(r, ["dbsize"])).out];
        const [mg, rg] = [(await cli(i, ["debug", "digest"])).out, (await cli(r, ["debug", "digest"])).out];
        equal = mo === ro && md === rd && mg === rg && !/ERR/.test(mg);
        detail = `offsets ${mo}/${ro}, keys ${md}/${rd}, digest ${mg.slice(0, 12)}/${rg.slice(0, 12)}`;
        if (!equal) await sleep(500);
      }
      replicas.push({ master: `${lab.nodeIps[i]}:${PORT}`, replica: `${lab.nodeIps[r]}:${PORT}`, equal, detail });
    }
  }
  return { clusterCheck: { code: cc.code, output: cc.out }, replicas };
}

/** Reads back every key a client was told was written (one MGET per batch: a shard's keys share one slot). */
async function readBack(client: Cluster, ops: WriteOp[]): Promise<FinalValues> {
  const values: FinalValues = new Map();
  const bySlotTag = new Map<string, string[]>();
  for (const o of ops) {
    if (o.outcome !== "ok") continue;
    const tag = o.key.slice(0, o.key.indexOf("}") + 1);
    if (!bySlotTag.has(tag)) bySlotTag.set(tag, []);
    bySlotTag.get(tag)!.push(o.key);
  }
  for (const keys of bySlotTag.values()) {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      let got: (string | null)[] | undefined;
      for (let attempt = 0; attempt < 10 && !got; attempt++) {
        try {
          got = await client.mget(...batch);
        } catch {
          await sleep(500);
        }
      }
      if (!got) throw new Error("could not read the written keys back");
      batch.forEach((k, j) => values.set(k, got![j]));
    }
  }
  return values;
}
