import type * as k8s from "@pulumi/kubernetes";
import type { ClusterContext } from "./context";

/** The identity of the pods and script Jobs, named after the cluster. */
export function serviceAccountArgs(cx: ClusterContext): k8s.core.v1.ServiceAccountArgs {
  // Redis never talks to the Kubernetes API: no token in the pods.
  return { metadata: cx.meta.named(cx.spec.name, "node"), automountServiceAccountToken: false };
}
