// The scale step: brings a healthy cluster to the planned topology (infra/plan/scaling.ts decides, this executes).
// Every step is recomputed from the live cluster (./survey.ts), so a run killed at any point is finished by the next
// one: open slots are completed forward (all keys to the importing side, then SETSLOT NODE), joined nodes are not
// joined twice, a half-done FORGET is done again. It never runs CLUSTER RESET, FLUSHALL/FLUSHDB or SHUTDOWN; anything
// it cannot do safely is refused before the first change (exit 2) or reported with what is left (exit 3).
// The steps, in order: finish open slots; phase out: join (./steps/join.ts); phase in: fail over, drain (a drained
// master keeps its replicas until it is empty), re-point replicas (synced), forget the leaving nodes; phase out: attach
// the replicas (synced), then move slots to the new masters. No slot moves to a master before it has a synced replica,
// and no replica leaves a master that still serves slots (when the plan has replicas).
import { readFileSync } from "node:fs";
import { sleep } from "../../smoke/time";
import { tlsFromEnv } from "../../smoke/tls";
import { describeDecision, formatRanges } from "../plan/scaling";
import { healthProblems } from "./health";
import type { Phase, ScaleOptions } from "./options";
import { ScaleRun } from "./run";
import { failovers } from "./steps/failover";
import { forget } from "./steps/forget";
import { join } from "./steps/join";
import { attach } from "./steps/replicas";
import { finishOpenSlots, moveSlots } from "./steps/slots";
import type { Survey } from "./survey";

// The CLI, the Pulumi component and the local harness take these from here.
export type { Phase, ScaleOptions };

export interface ScaleResult {
  /** 0 done (or nothing to do), 2 refused (nothing changed), 3 failed part-way (`left` says what remains). */
  code: 0 | 2 | 3;
  message: string;
  plan: string[];
  slotsMoved: number;
  keysMoved: number;
  ms: number;
  left?: string[];
}

export class ScaleRefused extends Error {}

export class Scaler {
  private readonly r: ScaleRun;

  constructor(private readonly o: ScaleOptions) {
    this.r = new ScaleRun(o);
  }

  close(): void {
    this.r.live.close();
  }

  private async refreshUntilHealthy(phase: Phase, first: Survey): Promise<Survey> {
    const until = Date.now() + (this.o.settleMs ?? 15_000);
    for (let i = 0; ; i++) {
      const s = i === 0 ? first : await this.r.live.survey();
      const p = healthProblems(this.r.live, this.o.nodes, s, phase);
      if (!p.length) return s;
      if (Date.now() >= until || i > 200) throw new ScaleRefused(`the cluster is not healthy, nothing was changed:\n  ${p.join("\n  ")}`);
      await sleep(500);
    }
  }

  async run(): Promise<ScaleResult> {
    const phase = this.o.phase ?? "all";
    const r = this.r;
    let plan: string[] = [];
    try {
      const first = await r.live.survey();
      // Phase in runs before new pods exist (first deploy: none answers yet); later phases need every planned node.
      if (phase !== "in" && !first.members.length && first.unreachable.length) {
        throw new ScaleRefused(`no planned node answers (${first.unreachable.join(", ")}): check the address, password, TLS settings; nothing was changed`);
      }
      if (!first.members.some((m) => m.slots.length)) {
        return this.result(0, "the cluster is not formed yet: nothing to scale (the bootstrap forms it)", plan);
      }
      // Phase in only removes (forget, fail over, drain): with nothing to remove it changes nothing and judges nothing,
      // so a cluster the bootstrap must diagnose (partial, foreign) reaches the bootstrap's refusal unchanged.
      if (phase === "in") {
        const pre = r.decide(first);
        if (!pre.remove.length && !pre.drain.length && !pre.failovers.length) {
          return this.result(0, "phase in: no node to remove or drain", describeDecision(pre));
        }
      }
      const s = await this.refreshUntilHealthy(phase, first);
      const d = r.decide(s);
      plan = describeDecision(d);
      if (d.problems.length) throw new ScaleRefused(`the planned topology cannot be reached, nothing was changed:\n  ${d.problems.join("\n  ")}`);
      const open = s.members.reduce((n, m) => n + m.migrating.size + m.importing.size, 0);
      r.log(`plan (${phase}${open ? `, ${open} open slot states to finish first` : ""}):`);
      for (const l of plan) r.log(`  ${l}`);
      if (this.o.dryRun) return this.result(0, "dry run: nothing changed", plan);

      await finishOpenSlots(r, await r.live.survey());
      if (phase !== "in") await join(r);
      if (phase !== "out") {
        await failovers(r);
        await moveSlots(r, true);
        await attach(r, true);
        await forget(r);
      }
      if (phase !== "in") {
        await attach(r, false);
        await moveSlots(r, false);
      }
      const left = await this.remaining(phase);
      if (left.length) return this.result(3, `not finished; left:\n  ${left.join("\n  ")}`, plan, left);
      return this.result(0, `done: ${this.o.masters} masters x ${this.o.replicasPerMaster} replicas${phase === "all" ? "" : ` (phase ${phase})`}`, plan);
    } catch (e) {
      if (e instanceof ScaleRefused) return this.result(2, e.message, plan);
      let left: string[] = [];
      try {
        left = await this.remaining(phase);
      } catch {
        left = ["(the cluster could not be surveyed)"];
      }
      return this.result(3, `failed: ${(e as Error).message}; re-run the scale step to finish. Left:\n  ${left.join("\n  ")}`, plan, left);
    } finally {
      this.close();
    }
  }

  private result(code: ScaleResult["code"], message: string, plan: string[], left?: string[]): ScaleResult {
    const { slotsMoved, keysMoved } = this.r;
    const res: ScaleResult = { code, message, plan, slotsMoved, keysMoved, ms: Date.now() - this.r.started, left };
    this.r.log(`${message} (${slotsMoved} slots, ${keysMoved} keys moved in ${(res.ms / 1000).toFixed(1)} s)`);
    return res;
  }

  /** What a re-run would still do (empty: the cluster is as planned for this phase). */
  async remaining(phase: Phase): Promise<string[]> {
    const s = await this.r.live.survey();
    const d = this.r.decide(s);
    const left = s.members
      .filter((m) => m.migrating.size + m.importing.size)
      .map((m) => `${m.migrating.size + m.importing.size} open slot(s) on ${m.name}: ${formatRanges([...m.migrating.keys(), ...m.importing.keys()])}`);
    const existing = new Set(s.members.map((m) => m.name));
    if (phase !== "out") {
      if (d.remove.length) left.push(`forget ${d.remove.join(", ")}`);
      for (const f of d.failovers) left.push(`fail over ${f.from} to ${f.to}`);
      const drains = d.moves.filter((m) => d.drain.includes(m.from) && existing.has(m.to));
      if (drains.length) left.push(`${drains.reduce((n, m) => n + m.slots.length, 0)} slots to move off ${[...new Set(drains.map((m) => m.from))].join(", ")}`);
    }
    if (phase !== "in") {
      if (d.join.length) left.push(`join ${d.join.join(", ")}`);
      if (d.moves.length) left.push(`${d.moves.reduce((n, m) => n + m.slots.length, 0)} slots to move`);
      if (d.attach.length) left.push(`attach ${d.attach.map((a) => `${a.replica} -> ${a.master}`).join(", ")}`);
      if (!d.join.length && !d.attach.length) {
        for (const m of s.members) {
          if (m.role === "replica" && m.info && (await this.r.live.linkStatus(m.addr)) !== "up") left.push(`${m.name}: master link not up`);
        }
      }
    }
    return left;
  }
}

/** Environment the shell scripts understand (docs: /work contract), for the CLI. */
export function connectionFromEnv(env: NodeJS.ProcessEnv): Pick<ScaleOptions, "password" | "username" | "tls"> {
  let password = env.REDISCLI_AUTH || undefined;
  if (!password && env.REDIS_PASSWORD_FILE) password = readFileSync(env.REDIS_PASSWORD_FILE, "utf8").trim();
  return { password, username: env.REDIS_USER || undefined, tls: tlsFromEnv(env) };
}
