// One run of the scale step as its steps (./steps) see it: the options, the live cluster, the plan drawn from a
// survey, the counters of what moved, and the run's deadline.
import { decideScaling, type ScalingDecision } from "../plan/scaling";
import { sleep } from "../../smoke/time";
import type { ScaleOptions } from "./options";
import { LiveCluster, nodeStates, type Survey } from "./survey";

export class ScaleRun {
  readonly live: LiveCluster;
  readonly log: (l: string) => void;
  readonly started = Date.now();
  private readonly deadline: number;
  slotsMoved = 0;
  keysMoved = 0;

  constructor(readonly o: ScaleOptions) {
    this.live = new LiveCluster(o);
    this.log = o.log ?? ((l) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} scale: ${l}\n`));
    this.deadline = Date.now() + (o.timeoutMs ?? 30 * 60_000);
  }

  /** The planner's decision for the cluster as surveyed. */
  decide(s: Survey): ScalingDecision {
    const names = this.o.nodes.map((_, i) => this.live.name(i));
    return decideScaling(nodeStates(s), names, this.o.masters, this.o.replicasPerMaster);
  }

  checkTime(what: string): void {
    if (Date.now() > this.deadline) throw new Error(`timed out (${this.o.timeoutMs ?? 1_800_000} ms) while ${what}`);
  }

  /** Polls `cond` (errors count as not yet: a node restarting) until true, `ms` or the run's deadline. */
  async waitFor(what: string, cond: () => Promise<boolean>, ms = 60_000, throwOnTimeout = true): Promise<boolean> {
    const until = Math.min(Date.now() + ms, this.deadline);
    for (let i = 0; i < 100_000; i++) {
      try {
        if (await cond()) return true;
      } catch {
        /* a node restarting: try again */
      }
      if (Date.now() > until) break;
      await sleep(250);
    }
    if (throwOnTimeout) throw new Error(`timed out waiting for ${what}`);
    return false;
  }
}
