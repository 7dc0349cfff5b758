// A Kubernetes Job as the job controller runs it: one pod at a time (parallelism 1, completions 1), a new pod after
// each failed one with the controller's back-off (10 s, doubling, at most 6 min) until backoffLimit failures, the whole
// Job ended by activeDeadlineSeconds (its running pod killed), and each attempt's termination message kept. Of
// podFailurePolicy: rules onExitCodes with operator In, action FailJob (the Job fails at once, reason PodFailurePolicy)
// or Count (the default); everything else of it is refused by name.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { sleep } from "../../smoke/time";
import { Pod, type PodEnv } from "./pod";
import { Unemulated } from "../refuse";
import { checkPodSpec, refuse, type Obj } from "./spec";

export interface JobAttempt {
  pod: string;
  exitCode?: number;
  terminationMessage: string;
  /** Last lines of the container's log. */
  logTail: string;
  durationMs: number;
}

export interface JobResult {
  name: string;
  succeeded: boolean;
  /** Complete, BackoffLimitExceeded, DeadlineExceeded or PodFailurePolicy (a FailJob rule matched). */
  reason: "Complete" | "BackoffLimitExceeded" | "DeadlineExceeded" | "PodFailurePolicy";
  attempts: JobAttempt[];
  durationMs: number;
}

const POLICY_ACTIONS = ["FailJob", "Count"];

/** A podFailurePolicy as the API server validates it (batch/v1), limited to what runJob does with it. */
export function checkPodFailurePolicy(where: string, policy: Obj | undefined, containers: string[]): void {
  if (policy === undefined) return;
  refuse(where, policy, ["rules"]);
  const rules = policy.rules;
  if (!Array.isArray(rules) || rules.length > 20) throw new Error(`pods runner: ${where}.rules must be a list of at most 20 rules (the API server refuses it)`);
  rules.forEach((rule: Obj, i: number) => {
    const at = `${where}.rules[${i}]`;
    refuse(at, rule, ["action", "onExitCodes"]);
    if (!POLICY_ACTIONS.includes(rule.action)) {
      const api = ["FailJob", "Ignore", "Count", "FailIndex"].includes(rule.action);
      throw new (api ? Unemulated : Error)(`pods runner: ${at}.action ${JSON.stringify(rule.action)}: ${api ? `not implemented (implemented: ${POLICY_ACTIONS.join(", ")})` : "not an action the API server accepts"}`);
    }
    const on = rule.onExitCodes;
    if (on === undefined) throw new Error(`pods runner: ${at} needs onExitCodes (the API server refuses a rule without onExitCodes or onPodConditions)`);
    refuse(`${at}.onExitCodes`, on, ["containerName", "operator", "values"]);
    if (on.operator !== "In") throw new (on.operator === "NotIn" ? Unemulated : Error)(`pods runner: ${at}.onExitCodes.operator ${JSON.stringify(on.operator)}: implemented is In`);
    const v = on.values;
    if (!Array.isArray(v) || v.length === 0 || v.length > 255 || v.some((x) => !Number.isInteger(x) || x === 0) || v.some((x, j) => j > 0 && x <= v[j - 1])) {
      throw new Error(`pods runner: ${at}.onExitCodes.values ${JSON.stringify(v)}: 1-255 integers, ascending without duplicates, no 0 with In (the API server refuses it)`);
    }
    if (on.containerName !== undefined && !containers.includes(on.containerName)) throw new Error(`pods runner: ${at}.onExitCodes.containerName ${on.containerName} is no container of the pod (${containers.join(", ")})`);
  });
}

/** The action of the first rule a failed pod's exits match (onExitCodes In), as the job controller picks it; undefined: none matched (Count). */
export function podFailureAction(policy: Obj | undefined, exits: { container: string; exitCode?: number }[]): string | undefined {
  for (const rule of policy?.rules ?? []) {
    const on = rule.onExitCodes;
    if (exits.some((e) => e.exitCode !== undefined && e.exitCode !== 0 && (on.containerName === undefined || on.containerName === e.container) && on.values.includes(e.exitCode))) return rule.action;
  }
  return undefined;
}

export function checkJob(job: Obj): void {
  const where = `Job ${job.metadata?.name}`;
  refuse(`${where}.spec`, job.spec, ["backoffLimit", "activeDeadlineSeconds", "podFailurePolicy", "template"]);
  checkPodFailurePolicy(`${where}.spec.podFailurePolicy`, job.spec.podFailurePolicy, (job.spec.template?.spec?.containers ?? []).map((c: Obj) => c.name));
  refuse(`${where}.spec.template`, job.spec.template, ["metadata", "spec"]);
  refuse(`${where}.spec.template.metadata`, job.spec.template.metadata, ["labels", "annotations"]);
  checkPodSpec(job.spec.template.spec, `${where} pod`, "job", 1, job.spec.template.metadata?.labels ?? {});
  if (job.spec.template.spec.containers.length !== 1) throw new Unemulated(`pods runner: ${where}: one container per Job pod is implemented`);
}

/** Runs the Job to completion or failure; `onPod` sees each attempt's pod (for deletion on teardown), then undefined (and the removal of a succeeded pod, still under way). */
export async function runJob(env: PodEnv, job: Obj, dir: string, onPod: (p: Pod | undefined, removal?: Promise<void>) => void): Promise<JobResult> {
  checkJob(job);
  const name: string = job.metadata.name;
  const backoffLimit: number = job.spec.backoffLimit ?? 6;
  const deadlineMs = job.spec.activeDeadlineSeconds !== undefined ? job.spec.activeDeadlineSeconds * 1000 : Infinity;
  const t0 = Date.now();
  const attempts: JobAttempt[] = [];
  const result = (succeeded: boolean, reason: JobResult["reason"]): JobResult => ({ name, succeeded, reason, attempts, durationMs: Date.now() - t0 });
  for (let failures = 0; ; ) {
    const podName = `${name}-${randomBytes(3).toString("hex").slice(0, 5)}`;
    const pod = new Pod(env, {
      name: podName,
      namespace: job.metadata.namespace,
      labels: job.spec.template.metadata?.labels ?? {},
      spec: job.spec.template.spec,
      dir: join(dir, podName),
    });
    onPod(pod);
    const ta = Date.now();
    let deadlineHit = false;
    try {
      await pod.start();
      while (pod.phase === "Running") {
        if (Date.now() - t0 > deadlineMs) {
          deadlineHit = true;
          break;
        }
        await sleep(200);
      }
    } catch (e) {
      attempts.push({ pod: podName, terminationMessage: `pod could not start: ${(e as Error).message}`, logTail: "", durationMs: Date.now() - ta });
      await pod.delete("force");
      onPod(undefined);
      throw e;
    }
    const st = pod.containers[0];
    attempts.push({ pod: podName, exitCode: deadlineHit ? undefined : st?.exitCode, terminationMessage: st?.terminationMessage ?? "", logTail: st?.logTail ?? "", durationMs: Date.now() - ta });
    if (pod.phase === "Succeeded" && !deadlineHit) {
      // Complete as soon as its pod succeeded (the job controller does not wait for the pod to go; on Kubernetes it
      // stays until the Job's TTL): the exited pod is removed in the background, and the runner's stop() awaits it.
      onPod(undefined, pod.delete("force"));
      return result(true, "Complete");
    }
    await pod.delete(deadlineHit ? "graceful" : "force");
    onPod(undefined);
    if (deadlineHit) return result(false, "DeadlineExceeded");
    if (podFailureAction(job.spec.podFailurePolicy, [{ container: job.spec.template.spec.containers[0].name, exitCode: st?.exitCode }]) === "FailJob") {
      env.log(`job ${name}: attempt failed (exit ${st?.exitCode}), a FailJob rule of its podFailurePolicy matched: no retry`);
      return result(false, "PodFailurePolicy");
    }
    failures++;
    if (failures > backoffLimit) return result(false, "BackoffLimitExceeded");
    const backoff = Math.min(360_000, 10_000 * 2 ** (failures - 1));
    env.log(`job ${name}: attempt ${failures} failed (exit ${st?.exitCode}); next pod in ${backoff / 1000} s`);
    for (const until = Date.now() + backoff; Date.now() < until; ) {
      if (Date.now() - t0 > deadlineMs) return result(false, "DeadlineExceeded");
      await sleep(200);
    }
  }
}

/** The Job pods that exist: the running attempt and the succeeded ones still being removed (stop() awaits both). */
export class JobPods {
  private readonly pods = new Set<Pod>();
  private current?: Pod;
  private readonly removals = new Set<Promise<void>>();

  constructor(private readonly onChange: () => void) {}

  /** runJob's `onPod`: a new attempt's pod, or undefined when the current one is gone (or `removal` under way). */
  track(p: Pod | undefined, removal?: Promise<void>): void {
    if (p) this.pods.add(p);
    if (this.current && !p) {
      const done = this.current;
      if (removal) {
        const r = removal.catch(() => undefined).finally(() => {
          this.pods.delete(done);
          this.removals.delete(r);
        });
        this.removals.add(r);
      } else this.pods.delete(done);
    }
    this.current = p;
    this.onChange();
  }

  /** The Job pods that exist now. */
  list(): Pod[] {
    return [...this.pods];
  }

  /** Waits for the removals under way; returns the pods left. */
  async settle(): Promise<Pod[]> {
    await Promise.allSettled([...this.removals]);
    return [...this.pods];
  }
}
