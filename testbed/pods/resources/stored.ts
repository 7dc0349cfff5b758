// Objects the runner keeps and does not run: their data feeds the pods (ConfigMap, Secret), the pods' network
// (Service, NetworkPolicy: ../podNetwork.ts), the Eviction API (PodDisruptionBudget) or nothing (Namespace,
// ServiceAccount: labels and existence only); each is checked first as the API server would (./validate.ts). The
// Prometheus Operator's objects are recorded as not run (no operator here).
import { randomUUID } from "node:crypto";
import type { ResourceHandler, Step } from "./handler";
import { checkStored } from "./validate";

/** The kind in the type token ("kubernetes:core/v1:Secret" -> Secret). */
const kindOf = (s: Step) => s.step.type.split(":")[2];

/** The object checked as the API server checks it (./validate.ts), named by its kind and id. */
const check = (s: Step) => checkStored(kindOf(s), s.inputs, `${kindOf(s)} ${s.id}`);

/** Stored under its kind, once checked (`checked`: else its handler checked it); an update merges the new inputs over the prior outputs. */
const stored = (createStatus: boolean, checked = true): ResourceHandler => ({
  create: (s, r) => {
    if (checked) check(s);
    r.objects.set(s.key(kindOf(s)), s.inputs);
    return { id: s.id, outputs: { ...s.step.inputs, ...(createStatus ? { status: {} } : {}) } };
  },
  update: (s, r) => {
    if (checked) check(s);
    r.objects.set(s.key(kindOf(s)), s.inputs);
    return { id: s.id, outputs: { ...(s.step.prior?.outputs ?? {}), ...s.step.inputs } };
  },
});

/** Data the pods read (volumes, env). */
export const dataObject = stored(false);
/** Kept, with an empty status (Namespace, ServiceAccount, PodDisruptionBudget: read where they are used). */
export const recordedObject = stored(true);
/** A NetworkPolicy: enforced from the moment it is stored (every pod's rules rewritten before the step ends). */
export const networkPolicy: ResourceHandler = {
  create: async (s, r) => {
    const out = await recordedObject.create(s, r);
    await r.network.sync();
    return out;
  },
  update: async (s, r) => {
    const out = await recordedObject.update!(s, r);
    await r.network.sync();
    return out;
  },
};
/** An object whose own handler checked it (a Job's metadata-only update). */
export const keptObject = stored(false, false);

/** A Service: stored, routed and named (../podNetwork.ts); a ClusterIP one gets its virtual IP, kept across updates. */
export const service: ResourceHandler = {
  create: async (s, r) => {
    check(s);
    r.objects.set(s.key("Service"), s.inputs);
    const clusterIP = r.network.assignClusterIp(s.inputs) ?? "None";
    await r.network.sync();
    return { id: s.id, outputs: { ...s.step.inputs, spec: { ...s.step.inputs.spec, clusterIP, clusterIPs: [clusterIP] } } };
  },
  update: (s, r) => service.create(s, r),
};

export const kubernetesProvider: ResourceHandler = {
  create: (s) => ({ id: randomUUID(), outputs: s.step.inputs }),
  update: (s) => ({ id: s.step.prior?.id ?? randomUUID(), outputs: s.step.inputs }),
};

/** PrometheusRule, ServiceMonitor: recorded as not run; an update changes nothing. */
export const operatorObject: ResourceHandler = {
  create: (s, r) => {
    r.notRun.push(`${s.inputs.kind}/${s.inputs.metadata?.name}`);
    return { id: s.id, outputs: { ...s.step.inputs } };
  },
  update: (s) => ({ id: s.id, outputs: { ...s.step.inputs } }),
};
