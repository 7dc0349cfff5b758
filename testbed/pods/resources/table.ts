// The runner's resource types: type token -> handler. A type not listed here is refused by name.
import { TLS_TYPES } from "../../tlsProvider";
import { randomPassword, tlsObject } from "./generated";
import type { ResourceHandler } from "./handler";
import { dataObject, kubernetesProvider, networkPolicy, operatorObject, recordedObject, service } from "./stored";
import { cronJob, deployment, job, statefulSet } from "./workloads";

const HANDLERS: Record<string, ResourceHandler> = {
  "pulumi:providers:kubernetes": kubernetesProvider,
  "kubernetes:core/v1:ConfigMap": dataObject,
  "kubernetes:core/v1:Secret": dataObject,
  "kubernetes:core/v1:Service": service,
  "kubernetes:core/v1:Namespace": recordedObject,
  "kubernetes:core/v1:ServiceAccount": recordedObject,
  "kubernetes:policy/v1:PodDisruptionBudget": recordedObject,
  "kubernetes:networking.k8s.io/v1:NetworkPolicy": networkPolicy,
  "kubernetes:apps/v1:StatefulSet": statefulSet,
  "kubernetes:batch/v1:Job": job,
  "kubernetes:apps/v1:Deployment": deployment,
  "kubernetes:batch/v1:CronJob": cronJob,
  "random:index/randomPassword:RandomPassword": randomPassword,
  ...Object.fromEntries(TLS_TYPES.map((t) => [t, tlsObject])),
};

/** The handler of a resource type; every kind of the Prometheus Operator's API group goes to one. */
export function handlerFor(type: string): ResourceHandler | undefined {
  if (Object.hasOwn(HANDLERS, type)) return HANDLERS[type];
  return type.startsWith("kubernetes:monitoring.coreos.com/") ? operatorObject : undefined;
}
