// What runs pods: a StatefulSet (../statefulSet.ts: created when every pod is Ready, updated as a rolling update)
// and a Job (../job.ts: awaited until Complete; a failure fails the step).
import { join } from "node:path";
import { runJob } from "../job";
import type { ResourceHandler, Step } from "./handler";
import { keptObject } from "./stored";

const withReadyReplicas = (s: Step) => ({ id: s.id, outputs: { ...s.step.inputs, status: { readyReplicas: s.inputs.spec.replicas } } });

export const statefulSet: ResourceHandler = {
  create: async (s, r) => {
    await r.statefulSets.create(s.inputs, s.step.options.customTimeouts?.create);
    return withReadyReplicas(s);
  },
  update: async (s, r) => {
    await r.statefulSets.update(s.inputs, s.step.options.customTimeouts?.update);
    return withReadyReplicas(s);
  },
};

export const job: ResourceHandler = {
  create: async (s, r) => {
    const name = s.inputs.metadata.name;
    r.mark("job", name, "start");
    const res = await runJob(r.env, s.inputs, join(r.dir, "jobs"), (p, removal) => r.jobPods.track(p, removal));
    r.mark("job", name, res.succeeded ? "Complete" : res.reason);
    r.jobs.push(res);
    if (!res.succeeded) {
      const last = res.attempts[res.attempts.length - 1];
      throw new Error(`Job ${name} failed (${res.reason}) after ${res.attempts.length} attempt(s); last termination message:\n${last?.terminationMessage ?? ""}`);
    }
    return { id: s.id, outputs: { ...s.step.inputs, status: { succeeded: 1 } } };
  },
  // A Job's spec is immutable (a change is a replacement): an update touches its metadata only.
  update: keptObject.update!,
};
