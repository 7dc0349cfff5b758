import type * as k8s from "@pulumi/kubernetes";
import { REDIS_PORT } from "../../plan/plan";
import { externalAccessPlan } from "../../plan/externalAccess";
import { METRICS_PORT } from "../kubernetesMonitoring";
import type { ClusterContext } from "./context";
import { BUS_PORT } from "./podPaths";

export function podDisruptionBudgetArgs(cx: ClusterContext): k8s.policy.v1.PodDisruptionBudgetArgs {
  // One node at a time: a drain never takes a master and its replica together.
  return { metadata: cx.meta.named(cx.spec.name, "node"), spec: { maxUnavailable: 1, selector: { matchLabels: cx.labels.selector } } };
}

export function networkPolicyArgs(cx: ClusterContext): k8s.networking.v1.NetworkPolicyArgs {
  const { spec, labels } = cx;
  const redisPorts = [{ protocol: "TCP", port: REDIS_PORT }];
  const external = externalAccessPlan(spec);
  return {
    metadata: cx.meta.named(spec.name, "node"),
    spec: {
      podSelector: { matchLabels: labels.selector },
      policyTypes: ["Ingress"],
      ingress: [
        // Cluster pods: client port (replication, redirects) and the cluster bus.
        { from: [{ podSelector: { matchLabels: labels.selector } }], ports: [...redisPorts, { protocol: "TCP", port: BUS_PORT }] },
        // Clients (and the bootstrap Job) in this namespace opt in with a label.
        { from: [{ podSelector: { matchLabels: { [spec.kubernetes.clientLabel]: "true" } } }], ports: redisPorts },
        // externalAccess: the client port (never the bus) from the configured source ranges; the per-pod Services keep
        // the client's address (externalTrafficPolicy Local), so these blocks see it. The pod ranges are excepted: a
        // plugin matching pod addresses against ipBlocks would otherwise admit every pod, bypassing the client label.
        ...(external ? [{ from: external.ipBlocks.map((ipBlock) => ({ ipBlock })), ports: redisPorts }] : []),
        ...(spec.monitoring.enabled
          ? [{
              from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": spec.kubernetes.monitoringNamespace } } }],
              ports: [{ protocol: "TCP", port: METRICS_PORT }],
            }]
          : []),
      ],
    },
  };
}
