import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { renderAlertRules, validateAlertRuleOptions } from "../../monitoring/rules";
import type { CanarySloOptions } from "../../monitoring/slo";
import type { BackupAlertOptions } from "../../monitoring/backup";
import { dashboardJson } from "../../monitoring/grafanaDashboard";
import { EXPORTER_IMAGE, EXPORTER_PORT } from "../../monitoring/images";
import { restrictedContainerSecurityContext } from "./kubernetes/securityContext";
import { envList } from "./kubernetes/env";
import { EXPORTER_ACL_ENV } from "../plan/acl";
import { exporterAddress, exporterTlsEnv, type TlsFilePaths } from "../plan/tls";

export const EXPORTER_SIDECAR_IMAGE = EXPORTER_IMAGE;
export const METRICS_PORT = EXPORTER_PORT;
export const METRICS_PORT_NAME = "metrics";
/** uid/gid the upstream redis_exporter image runs as. */
const EXPORTER_UID = 59000;

export interface ExporterSidecarOptions {
  image: string;
  /** Secret holding the Redis password (pass the Secret's generated name: a new Secret then rolls the pods); omitted = no auth. */
  passwordSecretName?: pulumi.Input<string>;
  /** Key inside that Secret. Default "password". */
  passwordSecretKey?: string;
  /** ACL users on: log in as `exporter`, and never call CONFIG GET (not granted: it would reveal masterauth). */
  aclUser?: boolean;
  /** Redis port inside the pod (the exporter talks to 127.0.0.1). */
  redisPort: number;
  /** Port the exporter serves /metrics on; named "metrics" for the Service and ServiceMonitor. */
  metricsPort: number;
  /** TLS: the pod volume holding the certificate files (readable through the pod's fsGroup) and their paths. */
  tls?: { files: TlsFilePaths; volume: string };
}

/**
 * redis_exporter container for the Redis StatefulSet pod: scrapes only its own pod's node over loopback, password from
 * a Secret through the environment (never argv, never a ConfigMap), hardened like the Redis container.
 */
export function exporterSidecar(opts: ExporterSidecarOptions): k8s.types.input.core.v1.Container & Record<string, unknown> {
  // The exporter reads REDIS_PASSWORD at start only: it follows a new password when its pod is replaced.
  const env: { name: string; value?: string; valueFrom?: { secretKeyRef: { name: pulumi.Input<string>; key: string } } }[] = [
    { name: "REDIS_ADDR", value: exporterAddress(!!opts.tls, "127.0.0.1", opts.redisPort) },
    { name: "REDIS_EXPORTER_WEB_LISTEN_ADDRESS", value: `:${opts.metricsPort}` },
    // TLS: the node's certificate from the pod's TLS volume (127.0.0.1 is among its names); metrics stay plain HTTP.
    ...(opts.tls ? envList(exporterTlsEnv(opts.tls.files)) : []),
  ];
  if (opts.aclUser) env.push(...envList(EXPORTER_ACL_ENV));
  if (opts.passwordSecretName) {
    env.push({ name: "REDIS_PASSWORD", valueFrom: { secretKeyRef: { name: opts.passwordSecretName, key: opts.passwordSecretKey ?? "password" } } });
  }
  return {
    name: "redis-exporter",
    image: opts.image,
    imagePullPolicy: "IfNotPresent",
    env,
    ports: [{ name: METRICS_PORT_NAME, containerPort: opts.metricsPort, protocol: "TCP" }],
    resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { memory: "64Mi" } },
    // Liveness only: a failing sidecar readiness would take the Redis node out of its Service.
    livenessProbe: { httpGet: { path: "/health", port: METRICS_PORT_NAME }, initialDelaySeconds: 10, periodSeconds: 30, timeoutSeconds: 5 },
    ...(opts.tls ? { volumeMounts: [{ name: opts.tls.volume, mountPath: opts.tls.files.ca.slice(0, opts.tls.files.ca.lastIndexOf("/")), readOnly: true }] } : {}),
    securityContext: restrictedContainerSecurityContext(EXPORTER_UID),
  };
}

export interface KubernetesMonitoringArgs {
  namespace: pulumi.Input<string>;
  /** Labels that select the Redis pods (the StatefulSet's pod template labels); the pods carry the exporter sidecar. */
  selector: Record<string, string>;
  /** Labels added to every object created here (e.g. app.kubernetes.io/part-of). */
  labels?: Record<string, string>;
  /** Planned topology; the alert rules compare against it. */
  masters: number;
  replicasPerMaster: number;
  /** Port of the sidecar's "metrics" port. Default 9121. */
  metricsPort?: number;
  /** false when the cluster has no prometheus-operator CRDs: no ServiceMonitor, no PrometheusRule. Default true. */
  prometheusOperator?: boolean;
  /**
   * Labels the Prometheus' serviceMonitorSelector/ruleSelector match (kube-prometheus-stack selects `release: <release>`
   * by default); put on the ServiceMonitor and PrometheusRule. Stack config: kubernetes.prometheusSelectorLabels.
   */
  prometheusSelectorLabels?: Record<string, string>;
  /** Scrape interval for the ServiceMonitor. Default "30s". */
  scrapeInterval?: string;
  /**
   * `job` label the scraped series get (ServiceMonitor relabeling), the rules count on and the dashboard defaults to.
   * One per cluster (the cluster component passes its name, e.g. "redis-cluster-prod"): clusters sharing a Prometheus
   * must not count each other's nodes.
   */
  job: string;
  runbookBaseUrl?: string;
  /** The canary's SLOs (canary.enabled): its burn-rate rules go into the same PrometheusRule. */
  canary?: CanarySloOptions;
  /** backup.enabled: the backup and restore-drill rules (monitoring/backup.ts) go into the same PrometheusRule. */
  backup?: BackupAlertOptions;
  /** Namespace for the Grafana dashboard ConfigMap (where the dashboard sidecar looks). Default: `namespace`. Stack config: kubernetes.dashboardNamespace. */
  dashboardNamespace?: pulumi.Input<string>;
  /** Kubernetes object names; defaults derive from the component name. */
  names?: { metricsService?: string; serviceMonitor?: string; prometheusRule?: string; dashboard?: string };
}

/**
 * Kubernetes monitoring objects around the exporter sidecars: a metrics Service over the Redis pods, a ServiceMonitor,
 * a PrometheusRule with the same rules as Docker and `rules:print`, and the Grafana dashboard as a sidecar ConfigMap.
 */
export class KubernetesMonitoring extends pulumi.ComponentResource {
  declare readonly metricsServiceName: pulumi.Output<string>;
  declare readonly prometheusRuleName: pulumi.Output<string | undefined>;
  declare readonly dashboardConfigMapName: pulumi.Output<string>;

  constructor(name: string, args: KubernetesMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-cluster:monitoring:KubernetesMonitoring", name, {}, opts);
    const job = args.job;
    // Fail at construction (not in the Prometheus) on a job the rules cannot quote.
    validateAlertRuleOptions({ masters: args.masters, replicasPerMaster: args.replicasPerMaster, job });
    const port = args.metricsPort ?? METRICS_PORT;
    const names = {
      metricsService: args.names?.metricsService ?? `${name}-metrics`,
      serviceMonitor: args.names?.serviceMonitor ?? `${name}`,
      prometheusRule: args.names?.prometheusRule ?? `${name}-rules`,
      dashboard: args.names?.dashboard ?? `${name}-dashboard`,
    };
    const baseLabels = { ...(args.labels ?? {}), "app.kubernetes.io/component": "metrics" };
    const operatorLabels = { ...baseLabels, ...(args.prometheusSelectorLabels ?? {}) };

    // Headless and publishing not-ready pods: a Redis node that fails its readiness probe must still be scraped.
    const service = new k8s.core.v1.Service(
      `${name}-metrics`,
      {
        metadata: { name: names.metricsService, namespace: args.namespace, labels: baseLabels },
        spec: {
          clusterIP: "None",
          publishNotReadyAddresses: true,
          selector: args.selector,
          ports: [{ name: METRICS_PORT_NAME, port, targetPort: METRICS_PORT_NAME, protocol: "TCP" }],
        },
      },
      { parent: this },
    );

    let rule: k8s.apiextensions.CustomResource | undefined;
    if (args.prometheusOperator ?? true) {
      new k8s.apiextensions.CustomResource(
        `${name}-servicemonitor`,
        {
          apiVersion: "monitoring.coreos.com/v1",
          kind: "ServiceMonitor",
          metadata: { name: names.serviceMonitor, namespace: args.namespace, labels: operatorLabels },
          spec: {
            selector: { matchLabels: baseLabels },
            namespaceSelector: { matchNames: [args.namespace] },
            endpoints: [
              {
                port: METRICS_PORT_NAME,
                path: "/metrics",
                interval: args.scrapeInterval ?? "30s",
                // The rules select on job; instance = pod name so alerts name the Redis node, not a pod IP.
                relabelings: [
                  { action: "replace", targetLabel: "job", replacement: job },
                  { action: "replace", sourceLabels: ["__meta_kubernetes_pod_name"], targetLabel: "instance" },
                ],
              },
            ],
          },
        },
        { parent: this, dependsOn: [service] },
      );
      rule = new k8s.apiextensions.CustomResource(
        `${name}-rules`,
        {
          apiVersion: "monitoring.coreos.com/v1",
          kind: "PrometheusRule",
          metadata: { name: names.prometheusRule, namespace: args.namespace, labels: operatorLabels },
          spec: renderAlertRules({
            masters: args.masters,
            replicasPerMaster: args.replicasPerMaster,
            job,
            runbookBaseUrl: args.runbookBaseUrl,
            canary: args.canary,
            backup: args.backup,
          }),
        },
        { parent: this },
      );
    }

    const dashboard = new k8s.core.v1.ConfigMap(
      `${name}-dashboard`,
      {
        metadata: {
          name: names.dashboard,
          namespace: args.dashboardNamespace ?? args.namespace,
          labels: { ...baseLabels, grafana_dashboard: "1" },
        },
        data: { "redis-cluster.json": dashboardJson({ job }) },
      },
      { parent: this },
    );

    this.metricsServiceName = service.metadata.name;
    this.prometheusRuleName = rule ? rule.metadata.name : pulumi.output(undefined);
    this.dashboardConfigMapName = dashboard.metadata.name;
    this.registerOutputs({
      metricsServiceName: this.metricsServiceName,
      prometheusRuleName: this.prometheusRuleName,
      dashboardConfigMapName: this.dashboardConfigMapName,
    });
  }
}
