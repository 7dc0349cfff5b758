// The load generator: closed loop (N requests in flight) or open loop (a fixed rate, latency measured from each
// request's intended send time so a stalled server cannot hide its queue: no coordinated omission), over several
// connections per master (requests of a tick coalesced into one write) or one connection per request in flight (one
// write per request: redis-benchmark's shape), keys on every slot or redis-benchmark's, pipelined or not; HDR latency
// histograms per command; the shape each run really had (connections, requests in flight, commands per write).
import { performance } from "node:perf_hooks";
import { RespConnection, sumCounters, type ConnectionCounters } from "./connection";
import type { TlsClientOptions } from "../types";
import { LatencyHistogram, type LatencySummary } from "./histogram";
import { keysOfSlots, keysPerSlot, redisBenchmarkKeys } from "./keys";
import { encodeAll, type EncodedCommands } from "./resp";
import type { LoadShape } from "./shape";

export const LOAD_COMMANDS = ["set", "get"] as const;
export type LoadCommand = (typeof LOAD_COMMANDS)[number];

/** A master to load: its announced address, where to reach it from here, and the slots it serves. */
export interface LoadTarget {
  addr: string;
  host: string;
  port: number;
  slots: [number, number][];
}

export interface LoadOptions {
  targets: LoadTarget[];
  password?: string;
  /** ACL user of the password (absent: `default`). */
  username?: string;
  /** TLS of every connection (the cluster's tls.enabled). */
  tls?: TlsClientOptions;
  command: LoadCommand;
  /** Commands per request (1 = none). A request goes to one master, its keys from that master's slots. */
  pipeline: number;
  /** TCP connections per master; the requests in flight are spread over them (ignored with connectionPerRequest). */
  connectionsPerNode: number;
  /**
   * Closed loop: one connection per request in flight, each request written at once in one socket write, the
   * connections spread over the masters by slot share — redis-benchmark's `-c concurrency -P pipeline`.
   */
  connectionPerRequest?: boolean;
  /** redis-benchmark's key space instead of one key per slot: per master this many keys in its first slot (`-r`). */
  redisBenchmarkKeys?: number;
  /** Closed loop: requests in flight (each sends its next request when the previous one is answered). */
  concurrency: number;
  /** Open loop: commands per second over all masters (requests are scheduled, not paced by replies). */
  rate?: number;
  /** Commands to send (closed loop default). At least one of ops/durationMs. */
  ops?: number;
  /** Time bound for sending. */
  durationMs?: number;
  valueSize: number;
  /** Keys are `<keyPrefix>:<n>`, one per slot (unless redisBenchmarkKeys). */
  keyPrefix: string;
  /** SET … EX ttl so keys expire even if nobody deletes them (0: plain SET, as redis-benchmark sends). */
  ttlSeconds: number;
  /** Open loop: stop scheduling when this many requests wait for replies (the rate is not sustained). */
  maxInFlight?: number;
  /** How long to wait for outstanding replies after the last send. */
  drainTimeoutMs?: number;
  connectTimeoutMs?: number;
  signal?: AbortSignal;
  /** Called once connected, right before the first send, and right after the last reply (measurement windows). */
  onStart?: () => Promise<void>;
  onEnd?: () => Promise<void>;
}

export interface LoadResult {
  command: LoadCommand;
  mode: "closed" | "open";
  pipeline: number;
  connections: number;
  concurrency?: number;
  /** Open loop: the rate asked for and the rate of sends that happened. */
  targetRate?: number;
  sentRate?: number;
  /** Open loop: requests not sent because maxInFlight was reached (the cluster did not keep up). */
  unsentOps?: number;
  /** Commands sent. */
  ops: number;
  /** Commands answered without an error: the only ones in opsPerSec. */
  okOps: number;
  errors: number;
  firstError?: string;
  ms: number;
  opsPerSec: number;
  /** Per command, from send (closed) or intended send (open) to the reply. */
  latency: LatencySummary;
  histogram: LatencyHistogram;
  /** Commands sent to each master (announced address), client side. */
  perTarget: Record<string, number>;
  /** CPU time of this process during the run (all threads), ms. */
  clientCpuMs: number;
  /** What the connections did while sending (counted by them). */
  shape: LoadShape;
}

const keyCache = new Map<string, string[]>();
const wireCache = new Map<string, EncodedCommands>();

/** One lane: a sequence of requests to one master over one connection. */
interface Lane {
  target: LoadTarget;
  conn: RespConnection;
  wires: EncodedCommands;
  /** Index of the next command in `wires`. */
  cursor: number;
  /** Closed loop: the request in flight (one per lane), its commands and when it was written. */
  n: number;
  start: number;
  /** Closed loop: the lane's reply handler, made once (not a closure per request). */
  done: (errors: number, firstError: string | undefined) => void;
}

/** The next n commands of a lane as one buffer: a view into the encoded commands, a copy only where it wraps around. */
function batchOf(lane: Lane, n: number): Buffer {
  const { buf, offsets } = lane.wires;
  const count = offsets.length - 1;
  const a = lane.cursor;
  if (a + n <= count) {
    lane.cursor = a + n === count ? 0 : a + n;
    return buf.subarray(offsets[a], offsets[a + n]);
  }
  const parts: Buffer[] = [];
  let left = n;
  while (left > 0) {
    const take = Math.min(left, count - lane.cursor);
    parts.push(buf.subarray(offsets[lane.cursor], offsets[lane.cursor + take]));
    lane.cursor = (lane.cursor + take) % count;
    left -= take;
  }
  return Buffer.concat(parts);
}

/** Every command a target's lanes send, encoded once (cached: the phases of a bench reuse them). */
function wiresOf(o: LoadOptions, t: LoadTarget): EncodedCommands {
  const value = "x".repeat(o.valueSize);
  const ttl = o.ttlSeconds > 0 ? ["EX", String(o.ttlSeconds)] : [];
  const keySpace = o.redisBenchmarkKeys ? `rb:${o.redisBenchmarkKeys}` : `slots:${o.keyPrefix}`;
  const id = `${keySpace}|${o.command}|${o.valueSize}|${o.ttlSeconds}|${t.slots.map((r) => r.join("-")).join(",")}`;
  let w = wireCache.get(id);
  if (w) return w;
  let keys: string[];
  if (o.redisBenchmarkKeys) keys = redisBenchmarkKeys(Math.min(...t.slots.map((r) => r[0])), o.redisBenchmarkKeys);
  else {
    let all = keyCache.get(o.keyPrefix);
    if (!all) keyCache.set(o.keyPrefix, (all = keysPerSlot(o.keyPrefix)));
    keys = keysOfSlots(all, t.slots);
  }
  w = encodeAll(keys.map((k) => (o.command === "set" ? ["SET", k, value, ...ttl] : ["GET", k])));
  if (wireCache.size > 64) wireCache.clear();
  wireCache.set(id, w);
  return w;
}

/** Which target serves position i of n lanes, proportional to the slots each target serves. */
export function laneTargets(targets: LoadTarget[], n: number): number[] {
  const bounds: number[] = [];
  let acc = 0;
  for (const t of targets) {
    for (const [a, b] of t.slots) acc += b - a + 1;
    bounds.push(acc);
  }
  const total = acc || 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const pos = ((i + 0.5) * total) / n;
    out.push(Math.max(0, bounds.findIndex((b) => pos < b)));
  }
  // Every target gets at least one lane, even a small one.
  targets.forEach((_, t) => {
    if (!out.includes(t)) out.push(t);
  });
  return out;
}

export function validateLoadOptions(o: LoadOptions): string[] {
  const bad: string[] = [];
  if (o.targets.length === 0) bad.push("no master to load");
  if (!Number.isInteger(o.pipeline) || o.pipeline < 1) bad.push(`pipeline must be an integer >= 1, got ${o.pipeline}`);
  if (!Number.isInteger(o.connectionsPerNode) || o.connectionsPerNode < 1) bad.push(`connections per node must be an integer >= 1, got ${o.connectionsPerNode}`);
  if (o.rate === undefined && (!Number.isInteger(o.concurrency) || o.concurrency < 1)) bad.push(`concurrency must be an integer >= 1, got ${o.concurrency}`);
  if (o.rate !== undefined && !(o.rate > 0)) bad.push(`rate must be > 0, got ${o.rate}`);
  if (o.rate !== undefined && o.connectionPerRequest) bad.push("connectionPerRequest is a closed-loop shape: give concurrency, not rate");
  if (o.redisBenchmarkKeys !== undefined && (!Number.isInteger(o.redisBenchmarkKeys) || o.redisBenchmarkKeys < 1)) bad.push(`redisBenchmarkKeys must be an integer >= 1, got ${o.redisBenchmarkKeys}`);
  if (o.ops === undefined && o.durationMs === undefined) bad.push("give ops or a duration");
  if (!(LOAD_COMMANDS as readonly string[]).includes(o.command)) bad.push(`command must be one of ${LOAD_COMMANDS.join(", ")}, got ${o.command}`);
  return bad;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const bad = validateLoadOptions(o);
  if (bad.length) throw new Error(`load options: ${bad.join("; ")}`);
  const P = o.pipeline;
  const open = o.rate !== undefined;
  const perRequest = o.connectionPerRequest === true;
  const wiresByTarget = o.targets.map((t) => wiresOf(o, t));

  const laneCount = open ? Math.max(o.targets.length * o.connectionsPerNode, 64) : o.concurrency;
  const assignment = laneTargets(o.targets, laneCount);
  const lanesOf = o.targets.map((_, t) => assignment.filter((x) => x === t).length);
  const conns: RespConnection[][] = [];
  try {
    for (const [i, t] of o.targets.entries()) {
      const n = perRequest ? lanesOf[i] : o.connectionsPerNode;
      const opts = { password: o.password, username: o.username, tls: o.tls, connectTimeoutMs: o.connectTimeoutMs, addr: t.addr, coalesce: !perRequest };
      conns.push(await Promise.all(Array.from({ length: n }, () => RespConnection.open(t.host, t.port, opts))));
    }
  } catch (e) {
    for (const cs of conns) for (const c of cs) c.close();
    throw e;
  }
  const perTargetIndex = new Map<number, number>();
  const lanes: Lane[] = assignment.map((t) => {
    const k = perTargetIndex.get(t) ?? 0;
    perTargetIndex.set(t, k + 1);
    const wires = wiresByTarget[t];
    const count = wires.offsets.length - 1;
    // The lanes of one master start evenly spaced over its keys: together they walk all of them.
    return { target: o.targets[t], conn: conns[t][k % conns[t].length], wires, cursor: Math.floor((k * count) / lanesOf[t]), n: 0, start: 0, done: () => undefined };
  });

  const hist = new LatencyHistogram();
  const perTarget: Record<string, number> = Object.fromEntries(o.targets.map((t) => [t.addr, 0]));
  const maxOps = o.ops ?? Number.MAX_SAFE_INTEGER;
  const deadline = o.durationMs !== undefined ? performance.now() + o.durationMs : Number.POSITIVE_INFINITY;
  let sentOps = 0;
  let okOps = 0;
  let errors = 0;
  let firstError: string | undefined;
  let outstanding = 0;
  let unsentOps = 0;

  const stopped = () => o.signal?.aborted === true;

  if (o.onStart) {
    try {
      await o.onStart();
    } catch (e) {
      for (const cs of conns) for (const c of cs) c.close();
      throw e;
    }
  }
  for (const cs of conns) for (const c of cs) c.resetCounters();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let tEnd = t0;
  await new Promise<void>((resolveRun) => {
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      tEnd = performance.now();
      resolveRun();
    };
    const record = (n: number, start: number, errs: number, first: string | undefined) => {
      hist.record((performance.now() - start) * 1000, n);
      okOps += n - errs;
      if (errs) {
        errors += errs;
        firstError ??= first;
      }
      outstanding--;
    };

    // Cancellation ends the run at once (a frozen node never answers); requests still waiting fail when the
    // connections close below.
    let timer: NodeJS.Timeout | undefined;
    if (o.signal?.aborted) return finish();
    o.signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      finish();
    }, { once: true });

    if (!open) {
      let active = lanes.length;
      const issue = (lane: Lane) => {
        const now = performance.now();
        const n = Math.min(P, maxOps - sentOps);
        if (n <= 0 || stopped() || now >= deadline) {
          if (--active === 0) finish();
          return;
        }
        sentOps += n;
        perTarget[lane.target.addr] += n;
        outstanding++;
        lane.n = n;
        lane.start = now;
        lane.conn.send(batchOf(lane, n), n, lane.done);
      };
      // In redis-benchmark's shape, as its event loop does: the replies of one poll are all handled, then their
      // connections' next requests written (each still its own write). Writing each at once interleaves the client's
      // sends with replies already waiting to be read, and those replies' latency grows by the sends before them.
      let ready: Lane[] = [];
      const sendReady = () => {
        const batch = ready;
        ready = [];
        for (const lane of batch) issue(lane);
      };
      for (const lane of lanes) {
        lane.done = (errs, first) => {
          record(lane.n, lane.start, errs, first);
          // A closed connection fails every send at once: the lane ends instead of spinning (or, sending inline,
          // recursing) through the rest of the run's operations.
          if (lane.conn.closed) {
            if (--active === 0) finish();
            return;
          }
          if (!perRequest) issue(lane);
          else if (ready.push(lane) === 1) setImmediate(sendReady);
        };
        issue(lane);
      }
      return;
    }

    // Open loop: request i is due at t0 + i * interval whatever happened to the earlier ones.
    const interval = (P / o.rate!) * 1000;
    const maxInFlight = o.maxInFlight ?? 100_000;
    let i = 0;
    let laneIdx = 0;
    const drainBy = () => performance.now() + (o.drainTimeoutMs ?? 10_000);
    let drainDeadline = 0;
    const waitDrain = () => {
      if (outstanding === 0 || performance.now() > drainDeadline || stopped()) return finish();
      timer = setTimeout(waitDrain, 5);
    };
    const tick = () => {
      const now = performance.now();
      while (true) {
        const intended = t0 + i * interval;
        if (intended > now) break;
        const n = Math.min(P, maxOps - sentOps - unsentOps);
        if (n <= 0 || intended >= deadline || stopped()) {
          drainDeadline = drainBy();
          return waitDrain();
        }
        i++;
        if (outstanding >= maxInFlight) {
          unsentOps += n;
          continue;
        }
        const lane = lanes[laneIdx];
        laneIdx = laneIdx + 1 === lanes.length ? 0 : laneIdx + 1;
        sentOps += n;
        perTarget[lane.target.addr] += n;
        outstanding++;
        lane.conn.send(batchOf(lane, n), n, (errs, first) => record(n, intended, errs, first));
      }
      timer = setTimeout(tick, Math.max(0, t0 + i * interval - performance.now()));
    };
    tick();
  });
  const cpu = process.cpuUsage(cpu0);
  const counted = sumCounters(conns.flat().map((c) => c.counters));
  const connections = conns.reduce((s, cs) => s + cs.length, 0);
  try {
    await o.onEnd?.();
  } finally {
    for (const cs of conns) for (const c of cs) c.close();
  }
  const ms = tEnd - t0;
  return {
    command: o.command,
    mode: open ? "open" : "closed",
    pipeline: P,
    connections,
    ...(open ? { targetRate: o.rate, sentRate: Math.round((sentOps / ms) * 1000), unsentOps } : { concurrency: o.concurrency }),
    ops: sentOps,
    okOps,
    errors,
    firstError,
    ms: Math.round(ms),
    opsPerSec: Math.round((okOps / Math.max(ms, 1e-3)) * 1000),
    latency: hist.summary(),
    histogram: hist,
    perTarget,
    clientCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    shape: shapeOf(counted, connections, P),
  };
}

/** The shape the counters show: redis-benchmark's when every request had its connection to itself and its own write. */
function shapeOf(c: ConnectionCounters, connections: number, pipeline: number): LoadShape {
  const commandsPerWrite = c.writes ? Number((c.commands / c.writes).toFixed(2)) : 0;
  return {
    connections,
    inFlightPerConnection: c.requests ? Number((c.inFlightSum / c.requests).toFixed(2)) : 0,
    maxInFlightPerConnection: c.maxInFlight,
    writes: c.writes,
    commands: c.commands,
    commandsPerWrite,
    pipeline,
    redisBenchmarkShape: c.requests > 0 && c.maxInFlight === 1 && c.writes === c.requests,
  };
}
