// canary: what the continuous canary (smoke/canary/) counted during this smoke run and in the minutes before it (the
// rollout), read from its GET /view, so a deploy reports the error budget it spent as applications saw it. It fails
// only where the two must agree: acknowledged writes the canary found lost. No canary answering is "n/a", never a pass:
// on a first deploy the canary starts after this step.
import type { SmokeContext } from "../context";
import { formatMs } from "../report";
import { CheckFailure, type Measurements } from "../types";
import type { CanaryWindow } from "../canary/view";

/** Each request to the canary; it answers from memory. */
const VIEW_TIMEOUT_MS = 3000;

type ViewAnswer = { ok: true; view: CanaryWindow } | { ok: false; why: string };

async function readView(url: string, lastMs: number): Promise<ViewAnswer> {
  let res: Response;
  try {
    res = await fetch(`${url.replace(/\/+$/, "")}/view?last_ms=${Math.max(1, Math.round(lastMs))}`, { signal: AbortSignal.timeout(VIEW_TIMEOUT_MS) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return { ok: false, why: cause?.code ?? cause?.message ?? (e as Error).message };
  }
  const text = await res.text().catch(() => "");
  // An older canary (no /view) answers 404 until this deploy replaces it.
  if (res.status !== 200) return { ok: false, why: `HTTP ${res.status} for /view${res.status === 404 ? " (a canary without /view: an older version, replaced after this step)" : ""}` };
  try {
    const view = JSON.parse(text) as CanaryWindow;
    if (typeof view.requests !== "number" || typeof view.lost !== "number") throw new Error("fields missing");
    return { ok: true, view };
  } catch (e) {
    return { ok: false, why: `/view answered something else than its JSON (${(e as Error).message})` };
  }
}

const pct = (n: number, of: number) => (of === 0 ? "0" : ((100 * n) / of).toFixed(n === 0 ? 0 : 2));
const burn = (b: number) => `${b < 10 ? b.toFixed(2) : b.toFixed(0)}x`;

function describe(v: CanaryWindow, label: string): string {
  const covered = v.coveredMs + 1000 < v.requestedMs ? ` (only ${formatMs(v.coveredMs)}: the canary started ${v.startedAt})` : "";
  return (
    `${label} ${formatMs(v.requestedMs)}${covered}: ${v.requests} requests, ${v.failed} failed (${pct(v.failed, v.requests)} %, ` +
    `availability burn ${burn(v.availabilityBurn)}), ${v.slow} slower than ${v.latencyThresholdMs} ms (latency burn ${burn(v.latencyBurn)}), ` +
    `${v.lost} acknowledged writes lost of ${v.lost + v.verified} re-read, ${v.topologyChanges} topology changes`
  );
}

function measure(prefix: string, v: CanaryWindow): Measurements {
  return {
    [`${prefix}_ms`]: v.coveredMs,
    [`${prefix}_requests`]: v.requests,
    [`${prefix}_failed`]: v.failed,
    [`${prefix}_slow`]: v.slow,
    [`${prefix}_availability_burn`]: Number(v.availabilityBurn.toFixed(3)),
    [`${prefix}_latency_burn`]: Number(v.latencyBurn.toFixed(3)),
    [`${prefix}_acked_writes_lost`]: v.lost,
    [`${prefix}_acked_writes_verified`]: v.verified,
    [`${prefix}_topology_changes`]: v.topologyChanges,
  };
}

export async function checkCanary(ctx: SmokeContext, runStartedAt: number): Promise<{ details: string; measurements: Measurements; notApplicable?: boolean }> {
  const url = ctx.opts.canaryUrl;
  if (!url) return { details: "no canary configured (--canary-url; canary.enabled in the stack): not checked", measurements: {}, notApplicable: true };
  ctx.setStep(`reading the canary's view at ${url}`);
  const runMs = Date.now() - runStartedAt;
  const [run, around] = await Promise.all([readView(url, runMs), readView(url, runMs + ctx.opts.canaryLookbackMs)]);
  if (!run.ok || !around.ok) {
    const why = !run.ok ? run.why : (around as { why: string }).why;
    return {
      details: `no canary view at ${url} (${why}): not checked; on a first deploy the canary starts after this step, otherwise see RedisCanaryDown`,
      measurements: { canary_answered: false },
      notApplicable: true,
    };
  }
  const m: Measurements = { canary_answered: true, canary_instance: run.view.instance, objective: run.view.objective, ...measure("run", run.view), ...measure("lookback", around.view) };
  const details = `canary ${run.view.instance}, objective ${run.view.objective}: ${describe(run.view, "this run")}; ${describe(around.view, "with the minutes before it")}`;
  if (around.view.lost > 0) {
    throw new CheckFailure(
      [`the canary found ${around.view.lost} acknowledged writes lost in the last ${formatMs(around.view.coveredMs)} (${run.view.lost} during this run): writes acknowledged by a replica (WAIT 1) were gone or changed when re-read; see the canary's log and the runbook of RedisCanaryAckedWriteLost. ${details}`],
      m,
    );
  }
  return { details, measurements: m };
}
