import type * as k8s from "@pulumi/kubernetes";
import type { KubernetesLabels } from "./metadata";

/** The cluster's namespace, when the stack creates it. */
export function namespaceArgs(name: string, labels: KubernetesLabels): k8s.core.v1.NamespaceArgs {
  return {
    metadata: {
      name,
      labels: {
        ...labels.of("namespace"),
        // Everything here runs under the "restricted" Pod Security Standard; the API server enforces it.
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
      },
    },
  };
}
