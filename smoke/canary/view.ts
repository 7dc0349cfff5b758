// The canary's own account of a recent window (GET /view?last_ms=N): what it counted in the last N ms, from periodic
// snapshots of its running totals. The smoke step reads it to report what an application saw during a deploy, with
// no Prometheus to ask (the first deploy has none, and the smoke Job cannot know where one runs).
import type { CanaryOp, CanaryResult } from "./metrics";

/** The SLIs count what applications do (monitoring/slo.ts selects op=~"set|get"); replica reads are diagnostics. */
const SLI_OPS: ReadonlySet<CanaryOp> = new Set<CanaryOp>(["set", "get"]);

export interface CanaryTotals {
  /** SLI requests (set, get), every result. */
  requests: number;
  /** SLI requests that failed (error or timeout). */
  failed: number;
  /** SLI requests slower than the latency threshold (the latency SLI's misses), every result. */
  slow: number;
  /** Acknowledged writes re-read and found missing or changed, and found intact. */
  lost: number;
  verified: number;
  /** Writes the master accepted that no replica acknowledged in time. */
  unreplicated: number;
  topologyChanges: number;
}

export interface CanarySlo {
  /** 0.999 = 99.9 % of SLI requests good. */
  objective: number;
  latencyThresholdMs: number;
}

export interface CanaryWindow extends CanaryTotals {
  instance: string;
  /** The window asked for, and the one the counts cover (shorter when the canary is younger or its history shorter). */
  requestedMs: number;
  coveredMs: number;
  /** The canary's start (ISO time). */
  startedAt: string;
  objective: number;
  latencyThresholdMs: number;
  /** Error ratio over the window divided by the error budget (1 - objective): 1 spends the budget exactly at its rate. */
  availabilityBurn: number;
  latencyBurn: number;
}

/** The stack config's defaults (infra/config/canary.ts reads them from here). */
export const DEFAULT_CANARY_SLO: CanarySlo = { objective: 0.999, latencyThresholdMs: 100 };

const zero = (): CanaryTotals => ({ requests: 0, failed: 0, slow: 0, lost: 0, verified: 0, unreplicated: 0, topologyChanges: 0 });

/** Running totals and a bounded history of them: one snapshot per `everyMs`, `keep` snapshots (the look-back). */
export class CanaryTally {
  readonly totals = zero();
  private readonly history: { at: number; totals: CanaryTotals }[] = [];
  private readonly startedAt: number;

  constructor(
    private readonly slo: CanarySlo,
    private readonly everyMs = 1000,
    private readonly keep = 3600,
    now = Date.now(),
  ) {
    this.startedAt = now;
    this.history.push({ at: now, totals: zero() });
  }

  request(op: CanaryOp, result: CanaryResult, durationMs: number): void {
    if (!SLI_OPS.has(op)) return;
    this.totals.requests++;
    if (result !== "ok") this.totals.failed++;
    if (durationMs > this.slo.latencyThresholdMs) this.totals.slow++;
  }

  /** Keeps a snapshot when the last one is `everyMs` old (called every round; cheap otherwise). */
  sample(now = Date.now()): void {
    if (now - this.history[this.history.length - 1].at < this.everyMs) return;
    this.history.push({ at: now, totals: { ...this.totals } });
    if (this.history.length > this.keep) this.history.shift();
  }

  /** Counts of the last `lastMs` ms: now minus the newest snapshot at least that old (else the oldest kept). */
  view(instance: string, lastMs: number, now = Date.now()): CanaryWindow {
    const from = now - lastMs;
    let base = this.history[0];
    for (let i = this.history.length - 1; i >= 0; i--) {
      if (this.history[i].at <= from) {
        base = this.history[i];
        break;
      }
    }
    const t = this.totals;
    const b = base.totals;
    const d: CanaryTotals = {
      requests: t.requests - b.requests,
      failed: t.failed - b.failed,
      slow: t.slow - b.slow,
      lost: t.lost - b.lost,
      verified: t.verified - b.verified,
      unreplicated: t.unreplicated - b.unreplicated,
      topologyChanges: t.topologyChanges - b.topologyChanges,
    };
    const budget = 1 - this.slo.objective;
    const burn = (bad: number) => (d.requests === 0 ? 0 : bad / d.requests / budget);
    return {
      instance,
      requestedMs: lastMs,
      coveredMs: now - base.at,
      startedAt: new Date(this.startedAt).toISOString(),
      objective: this.slo.objective,
      latencyThresholdMs: this.slo.latencyThresholdMs,
      ...d,
      availabilityBurn: burn(d.failed),
      latencyBurn: burn(d.slow),
    };
  }
}
