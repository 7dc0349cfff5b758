import type * as k8s from "@pulumi/kubernetes";
import { REDIS_PORT } from "../../plan/plan";
import { externalAccessPlan } from "../../plan/externalAccess";
import type { ClusterContext } from "./context";
import { BUS_PORT } from "./podPaths";

/** Every pod by its stable DNS name, ready or not. */
export function headlessServiceArgs(cx: ClusterContext): k8s.core.v1.ServiceArgs {
  return {
    metadata: cx.meta.named(cx.names.headlessService, "node"),
    spec: {
      clusterIP: "None",
      // Pods need each other's DNS names before they are ready (formation, full restarts).
      publishNotReadyAddresses: true,
      selector: cx.labels.selector,
      ports: [
        { name: "redis", port: REDIS_PORT, targetPort: "redis", protocol: "TCP" },
        { name: "bus", port: BUS_PORT, targetPort: "bus", protocol: "TCP" },
      ],
    },
  };
}

/** ClusterIP Service over the ready pods: a seed address for cluster clients. */
export function clientServiceArgs(cx: ClusterContext): k8s.core.v1.ServiceArgs {
  return {
    metadata: cx.meta.named(cx.names.clientService, "node"),
    spec: {
      type: "ClusterIP",
      selector: cx.labels.selector,
      ports: [{ name: "redis", port: REDIS_PORT, targetPort: "redis", protocol: "TCP" }],
    },
  };
}

/** Label every StatefulSet pod carries with its own name (set by the StatefulSet controller). */
export const POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";

/**
 * kubernetes.externalAccess: the Service of node `index` — its client port only (the cluster bus stays on the pod
 * network), reachable from outside through a load balancer. What a runtime must honour (the testbed's pods runner
 * emulates these): type LoadBalancer; spec.loadBalancerIP when set (externalAccess.addresses[index]);
 * spec.loadBalancerSourceRanges when set (sourceRanges and podRanges; absent with allowAnySource), for in-cluster
 * sources too (kube-proxy filters traffic to the load balancer's address by them); metadata.annotations (the configured ones and
 * the external-dns hostname `<pod>.<domain>`, which must resolve to the load balancer's address); one port 6379 ->
 * the pod's named port "redis"; selector: only statefulset.kubernetes.io/pod-name = the pod; publishNotReadyAddresses
 * true (the cluster, not the readiness probe, decides whom clients are sent to: a node in MOVED must be reachable
 * even while its probe says not ready, e.g. during a failover); externalTrafficPolicy Local (the client's source
 * address reaches the pod, so the NetworkPolicy's ipBlock can admit it).
 */
export function externalServiceArgs(cx: ClusterContext, index: number): k8s.core.v1.ServiceArgs {
  const external = externalAccessPlan(cx.spec);
  if (!external) throw new Error("externalServiceArgs: kubernetes.externalAccess is not enabled");
  const pod = cx.names.pod(index);
  const address = external.addressOf(index);
  return {
    metadata: { ...cx.meta.named(externalServiceName(cx, index), "external"), annotations: external.annotationsOf(pod) },
    spec: {
      type: "LoadBalancer",
      selector: { [POD_NAME_LABEL]: pod },
      publishNotReadyAddresses: true,
      externalTrafficPolicy: "Local",
      ...(address !== undefined && { loadBalancerIP: address }),
      ...(external.restricted && { loadBalancerSourceRanges: external.loadBalancerSourceRanges }),
      ports: [{ name: "redis", port: REDIS_PORT, targetPort: "redis", protocol: "TCP" }],
    },
  };
}

/** Name of node `index`'s external Service. */
export function externalServiceName(cx: ClusterContext, index: number): string {
  return `${cx.names.pod(index)}-external`;
}
