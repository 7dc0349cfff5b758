// Runs the smoke checks in order, each under its own timeout, the whole run under --timeout-ms.
import { errorText, parseAddr } from "./clients";
import { Aborted, SmokeContext } from "./context";
import { checkAuth } from "./checks/auth";
import { checkOldPasswords } from "./checks/oldPasswords";
import { checkBenchmark } from "./checks/benchmark";
import { checkCanary } from "./checks/canary";
import { checkConnect } from "./checks/connect";
import { checkDistribution } from "./checks/distribution";
import { checkFailover, freezeMsFor, readNodeTimeout } from "./checks/failover";
import { checkReplication, LINK_GRACE_MS } from "./checks/replication";
import { checkSlots } from "./checks/slots";
import { checkWorkloads } from "./checks/workloads";
import { checkLine, progressLine } from "./report";
import {
  CheckFailure, FAILOVER_MODES, SmokeUsageError, type CheckName, type CheckResult, type Measurements, type SmokeOptions, type SmokeReport,
} from "./types";

export interface RunHooks {
  /** Receives every progress line (already prefixed with the elapsed time). */
  progress?: (line: string) => void;
}

/** Throws SmokeUsageError for options that cannot work. */
export function validateOptions(o: SmokeOptions): void {
  const bad: string[] = [];
  if (o.nodes.length === 0) bad.push("--nodes needs at least one host:port");
  for (const n of o.nodes) {
    try {
      parseAddr(n);
    } catch (e) {
      bad.push(`--nodes: ${errorText(e)}`);
    }
  }
  if (!Number.isInteger(o.keys) || o.keys < 1) bad.push(`--keys must be an integer >= 1, got ${o.keys}`);
  if (!Number.isInteger(o.timeoutMs) || o.timeoutMs < 1000) bad.push(`--timeout-ms must be an integer >= 1000, got ${o.timeoutMs}`);
  if (!(FAILOVER_MODES as readonly string[]).includes(o.failover)) bad.push(`--failover must be none, manual or kill, got ${o.failover}`);
  if (o.failover !== "none" && o.expectReplicas === 0) bad.push(`--failover ${o.failover} needs replicas, but --expect-replicas is 0`);
  if (o.expectMasters !== undefined && (!Number.isInteger(o.expectMasters) || o.expectMasters < 1)) bad.push(`--expect-masters must be an integer >= 1`);
  if (o.expectReplicas !== undefined && (!Number.isInteger(o.expectReplicas) || o.expectReplicas < 0)) bad.push(`--expect-replicas must be an integer >= 0`);
  const b = o.bench;
  if (!Number.isInteger(b.ops) || b.ops < 0) bad.push(`--bench-ops must be an integer >= 0`);
  if (!Number.isInteger(b.concurrency) || b.concurrency < 1) bad.push(`--bench-concurrency must be an integer >= 1`);
  if (!Number.isInteger(b.pipeline) || b.pipeline < 1) bad.push(`--bench-pipeline must be an integer >= 1`);
  if (!Number.isInteger(b.connections) || b.connections < 1) bad.push(`--bench-connections must be an integer >= 1`);
  if (!Number.isInteger(b.rate) || b.rate < 0) bad.push(`--bench-rate must be an integer >= 0`);
  if (bad.length) throw new SmokeUsageError(bad.join("; "));
}

/** Each check's own time limit (the run's remaining time caps it further). */
export function checkTimeoutMs(name: CheckName, o: SmokeOptions, nodeTimeoutMs: number): number {
  switch (name) {
    case "connect":
      return 10_000 + 2 * o.connectTimeoutMs;
    case "slots":
      return 20_000;
    case "distribution":
      return 30_000 + 2 * o.keys;
    case "workloads":
      return 45_000;
    case "replication":
      return 30_000 + LINK_GRACE_MS;
    case "failover": {
      const freeze = freezeMsFor(o, nodeTimeoutMs);
      return o.failover === "kill" ? 90_000 + freeze + 10 * nodeTimeoutMs : 60_000 + 8 * nodeTimeoutMs;
    }
    case "auth":
    case "old-passwords":
      return 15_000;
    case "canary":
      return 10_000;
    case "benchmark":
      // The open-loop phase takes ops/rate seconds whatever the cluster does.
      return 60_000 + o.bench.ops + (o.bench.rate > 0 ? Math.ceil((o.bench.ops / o.bench.rate) * 1000) + 10_000 : 0);
  }
}

/** How long a timed-out check may take to unwind before the next check starts. */
export const ABORT_GRACE_MS = 5000;

type CheckFn = (ctx: SmokeContext) => Promise<{ details: string; measurements: Measurements; notApplicable?: boolean }>;

export async function runSmoke(opts: SmokeOptions, hooks: RunHooks = {}): Promise<SmokeReport> {
  const started = Date.now();
  const deadline = started + opts.timeoutMs;
  const progress = (text: string) => hooks.progress?.(progressLine(Date.now() - started, text));
  const checks: CheckResult[] = [];
  const report = (exit: 0 | 1 | 2, error?: string): SmokeReport => ({
    ok: exit === 0,
    exit_code: exit,
    started_at: new Date(started).toISOString(),
    duration_ms: Date.now() - started,
    target: { nodes: opts.nodes, password: opts.password ? "set" : "none", failover: opts.failover },
    ...(error ? { error } : {}),
    checks,
  });
  try {
    validateOptions(opts);
  } catch (e) {
    return report(2, errorText(e));
  }
  const ctx = new SmokeContext(opts, progress);

  const notRun = (name: CheckName, why: string) => {
    const r: CheckResult = { name, ok: false, status: "not-run", duration_ms: 0, details: `not run: ${why}`, problems: [], measurements: {} };
    checks.push(r);
    progress(checkLine(r));
  };

  let current: CheckName = "connect";
  const run = async (name: CheckName, fn: CheckFn): Promise<CheckResult> => {
    current = name;
    const remaining = deadline - Date.now();
    if (remaining <= 0) {
      notRun(name, `the run reached --timeout-ms ${opts.timeoutMs}`);
      return checks[checks.length - 1];
    }
    const limit = Math.min(checkTimeoutMs(name, opts, ctx.nodeTimeoutMs), remaining);
    // Each check gets its own context bound to its own signal: once it times out, every checkpoint/sleep/waitFor of it
    // throws, even while later checks run with fresh signals.
    const ac = new AbortController();
    const cctx = ctx.forCheck(ac.signal);
    progress(`${name}: running (limit ${Math.round(limit / 1000)} s)`);
    const t0 = Date.now();
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const work = fn(cctx);
    work.catch(() => undefined); // a timed-out check may still reject later
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const step = cctx.step;
        timedOut = true;
        ac.abort();
        reject(new CheckFailure([`timed out after ${limit} ms${step ? ` while ${step}` : ""}`]));
      }, limit);
    });
    let r: CheckResult;
    try {
      const out = await Promise.race([work, timeout]);
      r = {
        name, ok: true, status: out.notApplicable ? "not-applicable" : "passed", duration_ms: Date.now() - t0,
        details: out.details, problems: [], measurements: out.measurements,
      };
    } catch (e) {
      if (e instanceof SmokeUsageError) throw e;
      const problems = e instanceof CheckFailure ? e.problems
        : e instanceof Aborted ? [`timed out after ${limit} ms while ${e.message}`]
        : [`${cctx.step ? `while ${cctx.step}: ` : ""}${errorText(e)}`];
      r = {
        name, ok: false, status: "failed", duration_ms: Date.now() - t0,
        details: problems.length > 1 ? `${problems.length} problems: ${problems[0]}` : problems[0] ?? "failed",
        problems, measurements: e instanceof CheckFailure ? e.measurements : {},
      };
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
    if (timedOut) {
      // Let the aborted check unwind (its finally blocks stop writers and delete keys) before the next check starts;
      // bounded, and whatever is still pending fails on the closed connections at the end of the run.
      let grace: NodeJS.Timeout | undefined;
      await Promise.race([work.catch(() => undefined), new Promise((res) => (grace = setTimeout(res, ABORT_GRACE_MS)))]);
      clearTimeout(grace);
    }
    checks.push(r);
    progress(checkLine(r));
    return r;
  };

  try {
    await run("connect", checkConnect);
    if (!opts.nodeTimeoutMs) {
      // Cluster clients size their failover retries from it.
      ctx.nodeTimeoutMs = await readNodeTimeout(ctx).catch(() => ctx.nodeTimeoutMs);
    }
    const slots = await run("slots", checkSlots);
    const slotsOk = slots.ok;
    if (slotsOk) await run("distribution", checkDistribution);
    else notRun("distribution", "the slots check failed");
    if (opts.workloads) {
      if (slotsOk) await run("workloads", checkWorkloads);
      else notRun("workloads", "the slots check failed");
    }
    const repl = slotsOk ? await run("replication", checkReplication) : (notRun("replication", "the slots check failed"), undefined);
    if (opts.failover !== "none") {
      // Never fail over a cluster that is already unhealthy.
      if (slotsOk && repl?.ok) await run("failover", checkFailover);
      else notRun("failover", "slots or replication failed (a failover is only attempted on a healthy cluster)");
    }
    await run("auth", checkAuth);
    await run("old-passwords", checkOldPasswords);
    if (opts.bench.ops > 0) {
      if (slotsOk) await run("benchmark", checkBenchmark);
      else notRun("benchmark", "the slots check failed");
    }
    // Last: its window then covers every check of this run, the failover drill included.
    await run("canary", (c) => checkCanary(c, started));
  } catch (e) {
    // Usage or connection problem (no seed answers, wrong password): exit 2, named on the check that found it.
    if (e instanceof SmokeUsageError) {
      const r: CheckResult = { name: current, ok: false, status: "failed", duration_ms: 0, details: e.message, problems: [e.message], measurements: {} };
      checks.push(r);
      progress(checkLine(r));
      return report(2, e.message);
    }
    throw e;
  } finally {
    ctx.close();
  }
  const failed = checks.some((c) => !c.ok);
  return report(failed ? 1 : 0);
}
