import { METRICS_PORT, type KubernetesMonitoringArgs } from "../kubernetesMonitoring";
import type { ClusterContext } from "./context";
import { canarySlo } from "../../config/canary";

/** The monitoring objects around the pods' exporter sidecars, named after the cluster (its own Prometheus job). */
export function monitoringArgs(cx: ClusterContext): KubernetesMonitoringArgs {
  const { spec, labels } = cx;
  const k = spec.kubernetes;
  return {
    namespace: cx.namespace,
    selector: labels.selector,
    labels: labels.common,
    job: spec.name,
    masters: spec.masters,
    replicasPerMaster: spec.replicasPerMaster,
    metricsPort: METRICS_PORT,
    prometheusOperator: k.prometheusOperator,
    prometheusSelectorLabels: k.prometheusSelectorLabels,
    dashboardNamespace: k.dashboardNamespace ?? cx.namespace,
    canary: spec.canary.enabled ? canarySlo(spec) : undefined,
    backup: cx.plan.backup ? { cluster: cx.plan.backup.pushCluster } : undefined,
    names: {
      metricsService: `${spec.name}-metrics`,
      serviceMonitor: spec.name,
      prometheusRule: `${spec.name}-rules`,
      dashboard: `${spec.name}-dashboard`,
    },
  };
}
