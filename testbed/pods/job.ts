// A Kubernetes Job as the job controller runs it: one pod at a time (parallelism 1, completions 1), a new pod after
// each failed one with the controller's back-off (10 s, doubling, at most 6 min) until backoffLimit failures, the whole
// Job ended by activeDeadlineSeconds (its running pod killed), and each attempt's termination message kept.
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
  /** Complete, BackoffLimitExceeded or DeadlineExceeded. */
  reason: "Complete" | "BackoffLimitExceeded" | "DeadlineExceeded";
  attempts: JobAttempt[];
  durationMs: number;
}

export function checkJob(job: Obj): void {
  const where = `Job ${job.metadata?.name}`;
  refuse(`${where}.spec`, job.spec, ["backoffLimit", "activeDeadlineSeconds", "template"]);
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
