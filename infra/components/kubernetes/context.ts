import type * as pulumi from "@pulumi/pulumi";
import type { ClusterSpec } from "../../config/schema";
import { kubernetesNames, type ClusterPlan } from "../../plan/plan";
import { kubernetesLabels, objectMeta, type KubernetesLabels, type ObjectMeta } from "./metadata";
import { podTimings, type PodTimings } from "./podTimings";

/** What the builders of the cluster's objects read: the validated spec and plan, and what derives from them. */
export interface ClusterContext {
  spec: ClusterSpec;
  plan: ClusterPlan;
  names: ReturnType<typeof kubernetesNames>;
  labels: KubernetesLabels;
  timings: PodTimings;
  namespace: pulumi.Input<string>;
  meta: ObjectMeta;
}

export function clusterContext(spec: ClusterSpec, plan: ClusterPlan, namespace: pulumi.Input<string>): ClusterContext {
  const labels = kubernetesLabels(spec);
  return { spec, plan, names: kubernetesNames(spec), labels, timings: podTimings(spec), namespace, meta: objectMeta(namespace, labels) };
}

/**
 * Names of the objects the pods and Jobs reference (the outputs of the resources holding them: a new name changes
 * whatever references it). `tls` and `aclSecretName` are present exactly when TLS and ACL users are enabled.
 */
export interface PodRefs {
  serviceAccountName: pulumi.Input<string>;
  headlessServiceName: pulumi.Input<string>;
  /** The admin password's Secret (key `password`). */
  secretName: pulumi.Input<string>;
  /** The Secret the exporter sidecar reads its password from (key `password`). */
  exporterSecretName: pulumi.Input<string>;
  configMapName: pulumi.Input<string>;
  bootstrapConfigMapName: pulumi.Input<string>;
  /** The Secrets of the nodes' and of the clients' (Jobs) certificate. */
  tls?: { nodes: pulumi.Input<string>; client: pulumi.Input<string> };
  /** The Secret with users.acl and replica's password. */
  aclSecretName?: pulumi.Input<string>;
}
