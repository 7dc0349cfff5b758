// The Pushgateway the backup and restore-drill CronJobs push their outcome to (monitoring/backup.ts): a one-replica
// Deployment and a Service named `<cluster>-pushgateway` (plan.backup.pushgatewayName), a NetworkPolicy admitting
// only those Jobs' pods and the monitoring namespace, and a ServiceMonitor with honorLabels (the pushed `job` and
// `cluster` stay as pushed). No persistence: after a restart the groups are gone until the next runs push again
// (RedisBackupTooOld's none-pushed entry waits the whole max age before it fires).
import type * as k8s from "@pulumi/kubernetes";
import { PUSHGATEWAY_IMAGE } from "../../../monitoring/images";
import { PUSHGATEWAY_PORT } from "../../plan/backup";
import type { ClusterContext } from "./context";
import { restrictedContainerSecurityContext } from "./securityContext";

/** The official image's user (nobody). */
const PUSHGATEWAY_UID = 65534;
const PORT_NAME = "push";

/** Labels of the pods allowed to push: the backup and drill Jobs carry `component` backup / restore-drill. */
export const PUSHING_COMPONENTS = ["backup", "restore-drill"] as const;

export interface PushgatewayObjects {
  deployment: k8s.apps.v1.DeploymentArgs;
  service: k8s.core.v1.ServiceArgs;
  networkPolicy: k8s.networking.v1.NetworkPolicyArgs;
  /** prometheus-operator only. */
  serviceMonitor?: k8s.apiextensions.CustomResourceArgs;
}

export function pushgatewayObjects(cx: ClusterContext, name: string): PushgatewayObjects {
  const { spec, labels } = cx;
  const k = spec.kubernetes;
  const selector = { ...labels.stableOf("pushgateway") };
  const meta = { name, namespace: cx.namespace, labels: labels.of("pushgateway") };
  const deployment: k8s.apps.v1.DeploymentArgs = {
    metadata: meta,
    spec: {
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: { labels: { ...labels.of("pushgateway"), ...selector } },
        spec: {
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: PUSHGATEWAY_UID, runAsGroup: PUSHGATEWAY_UID, seccompProfile: { type: "RuntimeDefault" } },
          containers: [{
            name: "pushgateway",
            image: PUSHGATEWAY_IMAGE,
            args: [`--web.listen-address=:${PUSHGATEWAY_PORT}`],
            ports: [{ name: PORT_NAME, containerPort: PUSHGATEWAY_PORT }],
            readinessProbe: { httpGet: { path: "/-/ready", port: PORT_NAME }, periodSeconds: 10 },
            livenessProbe: { httpGet: { path: "/-/healthy", port: PORT_NAME }, periodSeconds: 30 },
            resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "128Mi" } },
            securityContext: restrictedContainerSecurityContext(PUSHGATEWAY_UID),
          }],
        },
      },
    },
  };
  const service: k8s.core.v1.ServiceArgs = {
    metadata: meta,
    spec: { selector, ports: [{ name: PORT_NAME, port: PUSHGATEWAY_PORT, targetPort: PORT_NAME, protocol: "TCP" }] },
  };
  const port = [{ protocol: "TCP", port: PUSHGATEWAY_PORT }];
  const networkPolicy: k8s.networking.v1.NetworkPolicyArgs = {
    metadata: meta,
    spec: {
      podSelector: { matchLabels: selector },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [{
            podSelector: {
              matchLabels: { "app.kubernetes.io/instance": spec.name },
              matchExpressions: [{ key: "app.kubernetes.io/component", operator: "In", values: [...PUSHING_COMPONENTS] }],
            },
          }],
          ports: port,
        },
        ...(spec.monitoring.enabled ? [{ from: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": k.monitoringNamespace } } }], ports: port }] : []),
      ],
    },
  };
  const serviceMonitor: k8s.apiextensions.CustomResourceArgs | undefined = k.prometheusOperator && spec.monitoring.enabled
    ? {
        apiVersion: "monitoring.coreos.com/v1",
        kind: "ServiceMonitor",
        metadata: { name, namespace: cx.namespace, labels: { ...labels.of("pushgateway"), ...(k.prometheusSelectorLabels ?? {}) } },
        spec: {
          selector: { matchLabels: selector },
          namespaceSelector: { matchNames: [cx.namespace] },
          endpoints: [{ port: PORT_NAME, path: "/metrics", interval: "30s", honorLabels: true }],
        },
      }
    : undefined;
  return { deployment, service, networkPolicy, ...(serviceMonitor && { serviceMonitor }) };
}
