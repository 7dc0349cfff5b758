// Objects the runner keeps and does not run: their data feeds the pods (ConfigMap, Secret), the pods' network
// (Service, NetworkPolicy: ../podNetwork.ts), the Eviction API (PodDisruptionBudget) or nothing (Namespace,
// ServiceAccount: labels and existence only); each is checked first as the API server would (./validate.ts). The
// Prometheus Operator's objects are recorded as not run (no operator here).
import { randomUUID } from "node:crypto";
import { serviceKey } from "../serviceProxy";
import type { Obj } from "../spec";
import type { Removal, ResourceHandler, RunnerContext, Step } from "./handler";
import { checkStored } from "./validate";

/** The kind in the type token ("kubernetes:core/v1:Secret" -> Secret). */
const kindOf = (s: Step) => s.step.type.split(":")[2];

/** The object checked as the API server checks it (./validate.ts), named by its kind and id. */
const check = (s: Step) => checkStored(kindOf(s), s.inputs, `${kindOf(s)} ${s.id}`);

/** Nothing of it is left to remove once the program drops it (a finished Job's pods, a generated secret, the provider). */
export const nothingToRemove = () => undefined;

/** Removes the stored object (`sync`: the pods' network reads it). */
const unstore = (sync: boolean) => async (s: Removal, r: RunnerContext) => {
  r.objects.delete(s.key(s.type.split(":")[2]));
  if (sync) await r.network.sync();
};

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
  remove: unstore(false),
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
  remove: unstore(true),
};
/** An object whose own handler checked it (a Job's metadata-only update). */
export const keptObject = stored(false, false);

/**
 * A Service: stored, routed and named (../podNetwork.ts); a ClusterIP one gets its virtual IP, kept across updates;
 * a LoadBalancer one also its ingress address and node ports (../loadBalancer.ts), reported as a cloud reports them
 * (status.loadBalancer.ingress, spec.ports[].nodePort), once routed.
 */
export const service: ResourceHandler = {
  create: async (s, r) => {
    check(s);
    const key = serviceKey(s.inputs);
    const lb = s.inputs.spec?.type === "LoadBalancer";
    let ingress: string | undefined;
    let nodePorts = new Map<number, number>();
    if (lb) {
      await r.network.loadBalancerNode();
      ingress = r.network.loadBalancers.assign(s.inputs, `Service ${s.id}`);
      nodePorts = r.network.loadBalancers.allocateNodePorts(s.inputs);
    } else r.network.loadBalancers.release(key);
    r.objects.set(s.key("Service"), s.inputs);
    const clusterIP = r.network.assignClusterIp(s.inputs) ?? "None";
    await r.network.sync();
    const spec = { ...s.step.inputs.spec, clusterIP, clusterIPs: [clusterIP] };
    if (!lb) return { id: s.id, outputs: { ...s.step.inputs, spec } };
    const ports = (s.step.inputs.spec.ports ?? []).map((p: Obj) => (nodePorts.has(p.port) ? { ...p, nodePort: nodePorts.get(p.port) } : p));
    return { id: s.id, outputs: { ...s.step.inputs, spec: { ...spec, ports }, status: { loadBalancer: { ingress: [{ ip: ingress }] } } } };
  },
  update: (s, r) => service.create(s, r),
  remove: async (s, r) => {
    r.objects.delete(s.key("Service"));
    await r.network.removeService(`${s.inputs.metadata.namespace}/${s.inputs.metadata.name}`);
  },
};

export const kubernetesProvider: ResourceHandler = {
  create: (s) => ({ id: randomUUID(), outputs: s.step.inputs }),
  update: (s) => ({ id: s.step.prior?.id ?? randomUUID(), outputs: s.step.inputs }),
  remove: nothingToRemove,
};

/** PrometheusRule, ServiceMonitor: recorded as not run; an update changes nothing. */
export const operatorObject: ResourceHandler = {
  create: (s, r) => {
    r.notRun.push(`${s.inputs.kind}/${s.inputs.metadata?.name}`);
    return { id: s.id, outputs: { ...s.step.inputs } };
  },
  update: (s) => ({ id: s.id, outputs: { ...s.step.inputs } }),
  remove: (s, r) => {
    const i = r.notRun.indexOf(`${s.inputs.kind}/${s.inputs.metadata?.name}`);
    if (i >= 0) r.notRun.splice(i, 1);
  },
};
