import type * as k8s from "@pulumi/kubernetes";
import { REDIS_PORT } from "../../plan/plan";
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
