import type * as pulumi from "@pulumi/pulumi";
import type { ClusterSpec } from "../../config/schema";

/**
 * Kubernetes recommended labels. `common`/`of` carry app.kubernetes.io/version (the image tag): only on objects whose
 * label changes are plain updates. `stable`/`stableOf` and `selector` never include the version: selectors are
 * immutable, and any change of the StatefulSet's volumeClaimTemplates (their labels included) replaces it.
 */
export function kubernetesLabels(spec: ClusterSpec) {
  const tag = spec.redisImage.includes(":") ? spec.redisImage.slice(spec.redisImage.lastIndexOf(":") + 1) : "latest";
  const version = tag.replace(/[^A-Za-z0-9_.-]/g, "-").replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, "").slice(0, 63) || "unknown";
  const common = {
    "app.kubernetes.io/name": "redis-cluster",
    "app.kubernetes.io/instance": spec.name,
    "app.kubernetes.io/part-of": "redis-cluster",
    "app.kubernetes.io/managed-by": "pulumi",
    "app.kubernetes.io/version": version,
  };
  const { "app.kubernetes.io/version": _version, ...stable } = common;
  const of = (component: string) => ({ ...common, "app.kubernetes.io/component": component });
  const stableOf = (component: string) => ({ ...stable, "app.kubernetes.io/component": component });
  const selector = {
    "app.kubernetes.io/name": "redis-cluster",
    "app.kubernetes.io/instance": spec.name,
    "app.kubernetes.io/component": "node",
  };
  return { common, of, stable, stableOf, selector };
}

export type KubernetesLabels = ReturnType<typeof kubernetesLabels>;

/** Metadata of the cluster's objects in its namespace, labelled by component. */
export function objectMeta(namespace: pulumi.Input<string>, labels: KubernetesLabels) {
  return {
    named: (name: string, component: string) => ({ name, namespace, labels: labels.of(component) }),
    // Auto-named (Pulumi appends a random suffix): a data change replaces the object create-before-delete, and the
    // new name changes every pod template that references it.
    auto: (component: string) => ({ namespace, labels: labels.of(component) }),
  };
}

export type ObjectMeta = ReturnType<typeof objectMeta>;
