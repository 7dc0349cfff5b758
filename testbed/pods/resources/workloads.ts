// What runs pods: a StatefulSet (../statefulSet.ts: created when every pod is Ready, updated as a rolling update),
// a Deployment (../deployment.ts: likewise, its strategy's roll), a Job (../job.ts: awaited until Complete; a failure
// fails the step) and a CronJob (../cronJob.ts: stored; its job template run as a Job on demand, runCronJob).
import { join } from "node:path";
import { checkCronJob, jobOf } from "../cronJob";
import { runJob, type JobResult } from "../job";
import type { Obj } from "../spec";
import type { ResourceHandler, RunnerContext, Step } from "./handler";
import { keptObject, nothingToRemove } from "./stored";

/** A controller's create and update, each awaited until its pods are Ready (its customTimeouts bound the wait). */
interface Controller {
  create(obj: Obj, timeout: string | undefined): Promise<void>;
  update(obj: Obj, timeout: string | undefined): Promise<void>;
}

/** The handler of a kind run by a controller; `status`: what the object reports once rolled out. */
const controlled = (controller: (r: RunnerContext) => Controller, status: (replicas: number) => Obj): ResourceHandler => {
  const out = (s: Step) => ({ id: s.id, outputs: { ...s.step.inputs, status: status(s.inputs.spec.replicas ?? 1) } });
  return {
    create: async (s, r) => {
      await controller(r).create(s.inputs, s.step.options.customTimeouts?.create);
      return out(s);
    },
    update: async (s, r) => {
      await controller(r).update(s.inputs, s.step.options.customTimeouts?.update);
      return out(s);
    },
  };
};

export const statefulSet = controlled((r) => r.statefulSets, (n) => ({ readyReplicas: n }));

/** Runs a Job to its end as the job controller does and records it (mark, r.jobs). */
async function runRecorded(r: RunnerContext, obj: Obj): Promise<JobResult> {
  const name = obj.metadata.name;
  r.mark("job", name, "start");
  const res = await runJob(r.env, obj, join(r.dir, "jobs"), (p, removal) => r.jobPods.track(p, removal));
  r.mark("job", name, res.succeeded ? "Complete" : res.reason);
  r.jobs.push(res);
  return res;
}

export const job: ResourceHandler = {
  create: async (s, r) => {
    const res = await runRecorded(r, s.inputs);
    if (!res.succeeded) {
      const last = res.attempts[res.attempts.length - 1];
      throw new Error(`Job ${res.name} failed (${res.reason}) after ${res.attempts.length} attempt(s); last termination message:\n${last?.terminationMessage ?? ""}`);
    }
    return { id: s.id, outputs: { ...s.step.inputs, status: { succeeded: 1 } } };
  },
  // A Job's spec is immutable (a change is a replacement): an update touches its metadata only.
  update: keptObject.update!,
  // Its pods are gone once it finished (its result stays in r.jobs).
  remove: nothingToRemove,
};

export const deployment = controlled((r) => r.deployments, (n) => ({ replicas: n, readyReplicas: n, availableReplicas: n, updatedReplicas: n }));

/** Checked and stored under CronJob/<namespace>/<name>; runs only through runCronJob. */
export const cronJob: ResourceHandler = {
  create: (s, r) => {
    checkCronJob(s.inputs);
    r.objects.set(s.key("CronJob"), s.inputs);
    return { id: s.id, outputs: { ...s.step.inputs, status: {} } };
  },
  update: (s, r) => cronJob.create(s, r),
  remove: (s, r) => {
    r.objects.delete(s.key("CronJob"));
  },
};

/** The CronJobs with a run under way, per runner (concurrencyPolicy Forbid). */
const active = new WeakMap<RunnerContext, Set<string>>();

/**
 * Runs the CronJob's job template once as a Job, now (`kubectl create job --from=cronjob/<name>`), and returns its
 * outcome; with concurrencyPolicy Forbid a run while another of the same CronJob is under way is refused.
 */
export async function runCronJob(r: RunnerContext, name: string, namespace?: string): Promise<JobResult> {
  const found = [...r.objects].filter(([k]) => k.startsWith("CronJob/") && k.endsWith(`/${name}`) && (namespace === undefined || k === `CronJob/${namespace}/${name}`));
  if (found.length !== 1) throw new Error(`pods runner: ${found.length === 0 ? "no" : "more than one"} CronJob ${name}${namespace ? ` in ${namespace}` : ""}`);
  const [key, cj] = found[0];
  const running = active.get(r) ?? new Set<string>();
  active.set(r, running);
  if (cj.spec.concurrencyPolicy === "Forbid" && running.has(key)) throw new Error(`pods runner: CronJob ${name}: concurrencyPolicy Forbid and a run is under way`);
  running.add(key);
  try {
    return await runRecorded(r, jobOf(cj));
  } finally {
    running.delete(key);
  }
}
