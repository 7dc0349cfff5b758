// Objects the runner keeps and does not run: their data feeds the pods (ConfigMap, Secret), the DNS (headless
// Service), or nothing at all (Namespace, ServiceAccount, PodDisruptionBudget, NetworkPolicy: nothing enforces a
// NetworkPolicy or a PDB here); each is checked first as the API server would (./validate.ts). The Prometheus
// Operator's objects are recorded as not run (no operator here).
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
/** Kept, with an empty status, and enforced by nothing. */
export const recordedObject = stored(true);
/** An object whose own handler checked it (a Job's metadata-only update). */
export const keptObject = stored(false, false);

/** A Service: stored for the DNS (a headless one names the pods); a cluster IP as the API server would assign. */
export const service: ResourceHandler = {
  create: (s, r) => {
    check(s);
    r.objects.set(s.key("Service"), s.inputs);
    return { id: s.id, outputs: { ...s.step.inputs, spec: { ...s.step.inputs.spec, clusterIP: s.inputs.spec?.clusterIP ?? "10.96.0.10" } } };
  },
  update: (s, r) => {
    const out = service.create(s, r);
    r.writeDns();
    return out;
  },
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
