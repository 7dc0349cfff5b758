// The load generator in redis-benchmark's shape on several threads, as redis-benchmark --cluster runs by default (one
// thread per master): the fair partner of that row. Each worker thread runs the generator (smoke/load) on its masters'
// share of the connections and commands; all start together after connecting, the usage window spans them all, and
// their histograms (exact, HdrHistogram), counters and shapes are added up. Bench only: the workers load TypeScript
// through tsx, which runs the bench.
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import type { SmokeContext } from "../../smoke/context";
import { LatencyHistogram } from "../../smoke/load/histogram";
import { laneTargets, runLoad, type LoadOptions, type LoadResult, type LoadTarget } from "../../smoke/load/generator";
import { isLocal, loadTargets, usageWindow, type MeasuredPhase } from "../../smoke/load/measure";
import type { LoadShape } from "../../smoke/load/shape";

/** What a worker runs: plain data (no callbacks, no signal). */
type WorkerLoad = Omit<LoadOptions, "onStart" | "onEnd" | "signal">;
type WorkerResult = Omit<LoadResult, "histogram"> & { histogram: string };
type FromWorker = { ready: true } | { result: WorkerResult } | { error: string };

/** Splits `ops` commands and `concurrency` connections over the threads, each thread taking whole masters. */
export function splitByThreads(targets: LoadTarget[], threads: number, concurrency: number, ops: number): { targets: LoadTarget[]; concurrency: number; ops: number }[] {
  const lanes = laneTargets(targets, concurrency);
  const groups = Array.from({ length: Math.min(threads, targets.length) }, () => ({ targets: [] as LoadTarget[], concurrency: 0, ops: 0 }));
  targets.forEach((t, i) => {
    const g = groups[i % groups.length];
    g.targets.push(t);
    g.concurrency += lanes.filter((x) => x === i).length;
  });
  const total = groups.reduce((s, g) => s + g.concurrency, 0);
  let left = ops;
  groups.forEach((g, i) => {
    g.ops = i === groups.length - 1 ? left : Math.round((ops * g.concurrency) / total);
    left -= g.ops;
  });
  return groups;
}

/** The shapes of the threads as one: connections and writes added, requests in flight weighted by commands. */
export function addShapes(shapes: LoadShape[]): LoadShape {
  const commands = shapes.reduce((s, x) => s + x.commands, 0);
  const writes = shapes.reduce((s, x) => s + x.writes, 0);
  return {
    connections: shapes.reduce((s, x) => s + x.connections, 0),
    pipeline: shapes[0].pipeline,
    inFlightPerConnection: commands ? Number((shapes.reduce((s, x) => s + x.inFlightPerConnection * x.commands, 0) / commands).toFixed(2)) : 0,
    maxInFlightPerConnection: Math.max(...shapes.map((x) => x.maxInFlightPerConnection)),
    writes,
    commands,
    commandsPerWrite: writes ? Number((commands / writes).toFixed(2)) : 0,
    redisBenchmarkShape: shapes.every((x) => x.redisBenchmarkShape),
  };
}

function startWorker(load: WorkerLoad): Worker {
  let tsx: string;
  try {
    tsx = require.resolve("tsx/cjs");
  } catch {
    throw new Error("the threaded generator loads TypeScript in its workers through tsx: run the bench with tsx (npm run bench)");
  }
  return new Worker(`require(${JSON.stringify(tsx)}); require(${JSON.stringify(__filename)});`, { eval: true, workerData: load });
}

/** The next message of a worker, or its error or exit as an exception. */
function nextMessage(w: Worker): Promise<FromWorker> {
  return new Promise((resolve, reject) => {
    const off = () => {
      w.off("message", onMessage);
      w.off("error", onError);
      w.off("exit", onExit);
    };
    const onMessage = (m: FromWorker) => (off(), "error" in m ? reject(new Error(m.error)) : resolve(m));
    const onError = (e: Error) => (off(), reject(e));
    const onExit = (code: number) => (off(), reject(new Error(`load worker exited (${code}) before answering`)));
    w.on("message", onMessage);
    w.on("error", onError);
    w.on("exit", onExit);
  });
}

/**
 * A closed-loop phase in redis-benchmark's shape on `threads` worker threads (masters split over them), with every
 * node's commands and CPU over the sending time of all of them; client CPU is the whole process's (every thread).
 */
export async function threadedPhase(ctx: SmokeContext, o: Omit<WorkerLoad, "targets" | "password" | "username" | "tls" | "connectTimeoutMs" | "connectionPerRequest">, threads: number): Promise<MeasuredPhase> {
  if (o.ops === undefined || o.rate !== undefined) throw new Error("threadedPhase: a closed loop with a number of commands (ops), not a rate");
  const targets = await loadTargets(ctx);
  const w = await usageWindow(ctx, { local: isLocal(targets.map((t) => t.host)), clientThreads: threads });
  const common = { ...o, password: ctx.opts.password, username: ctx.opts.username, tls: ctx.opts.tls, connectTimeoutMs: ctx.opts.connectTimeoutMs, connectionPerRequest: true };
  const workers = splitByThreads(targets, threads, o.concurrency, o.ops).map((g) => startWorker({ ...common, ...g }));
  try {
    await Promise.all(workers.map(nextMessage)); // every worker connected
    await w.start();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const done = workers.map(nextMessage);
    for (const x of workers) x.postMessage("go");
    const results = (await Promise.all(done)).map((m) => (m as { result: WorkerResult }).result);
    const ms = performance.now() - t0;
    await w.end();
    const cpu = process.cpuUsage(cpu0);
    const hist = new LatencyHistogram();
    for (const r of results) hist.add(LatencyHistogram.decode(r.histogram));
    const okOps = results.reduce((s, r) => s + r.okOps, 0);
    const clientCpuMs = Math.round((cpu.user + cpu.system) / 1000);
    const result: LoadResult = {
      command: o.command, mode: "closed", pipeline: o.pipeline, connections: results.reduce((s, r) => s + r.connections, 0), concurrency: o.concurrency,
      ops: results.reduce((s, r) => s + r.ops, 0), okOps, errors: results.reduce((s, r) => s + r.errors, 0), firstError: results.find((r) => r.firstError)?.firstError,
      ms: Math.round(ms), opsPerSec: Math.round((okOps / Math.max(ms, 1e-3)) * 1000), latency: hist.summary(), histogram: hist,
      perTarget: Object.assign({}, ...results.map((r) => r.perTarget)), clientCpuMs, shape: addShapes(results.map((r) => r.shape)),
    };
    return { result, usage: w.report(clientCpuMs) };
  } finally {
    await Promise.all(workers.map((x) => x.terminate()));
  }
}

// In a worker: connect, say ready, wait for "go", run, send the result (the histogram in its compressed form).
if (!isMainThread && parentPort) {
  const port = parentPort;
  const load = workerData as WorkerLoad;
  runLoad({
    ...load,
    onStart: () => new Promise<void>((resolve) => {
      port.once("message", () => resolve());
      port.postMessage({ ready: true } satisfies FromWorker);
    }),
  }).then(
    (r) => port.postMessage({ result: { ...r, histogram: r.histogram.encode() } } satisfies FromWorker),
    (e) => port.postMessage({ error: e instanceof Error ? e.message : String(e) } satisfies FromWorker),
  );
}
