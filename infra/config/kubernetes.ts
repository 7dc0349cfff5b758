import { z } from "zod";
import { externalAccessSchema } from "./externalAccess";

// Settings of the `kubernetes` stack-config object (prod). Every key has a documented default.
export const memoryQuantity = z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|K|M|G|T)?$/, "must be a Kubernetes memory quantity like 512Mi or 2Gi");
export const cpuQuantity = z.string().regex(/^(\d+m|\d+(\.\d+)?)$/, "must be a Kubernetes CPU quantity like 250m or 1");
const labelKey = z.string().regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/, "must be a Kubernetes label key");
const labelValue = z.string().regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/, "must be a Kubernetes label value (up to 63 of A-Z a-z 0-9 - _ .)");
const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS-1123 label (lowercase letters, digits, '-')");

export const kubernetesSchema = z
  .object({
    context: z.string().min(1).optional()
      .describe("kubeconfig context to deploy to, pinned through an explicit Kubernetes provider (default: the kubeconfig's current context, with a warning)"),
    namespace: dnsLabel.default("redis").describe("Namespace the cluster lives in"),
    createNamespace: z.boolean().default(true).describe("Create the namespace (false: it must exist)"),
    storageClass: z.string().min(1).optional().describe("StorageClass of the data volumes (default: the cluster's default class); fixed when the StatefulSet is created"),
    storageSize: z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti)$/, "must be a Kubernetes quantity like 10Gi").default("10Gi")
      .describe("Size of each node's data volume when the StatefulSet is created; later changes are ignored (grow the PVCs by hand: docs/runbooks.md)"),
    resources: z
      .object({
        requests: z.object({ cpu: cpuQuantity.default("250m"), memory: memoryQuantity.default("1Gi") }).strict().default({ cpu: "250m", memory: "1Gi" }),
        limits: z.object({ cpu: cpuQuantity.optional(), memory: memoryQuantity.default("1Gi") }).strict().default({ memory: "1Gi" }),
      })
      .strict()
      .default({ requests: { cpu: "250m", memory: "1Gi" }, limits: { memory: "1Gi" } })
      .describe("Container resources of each Redis pod"),
    antiAffinity: z.enum(["soft", "hard"]).default("soft")
      .describe("Pod anti-affinity across nodes: soft (preferred) or hard (required: needs as many schedulable nodes as pods)"),
    topologyKey: labelKey.default("kubernetes.io/hostname").describe("Topology key for anti-affinity"),
    spreadTopologyKey: labelKey.default("topology.kubernetes.io/zone")
      .describe("Topology key the pods are spread over evenly when possible (zones)"),
    clientLabel: labelKey.default("redis-cluster-client").describe("Pods in the namespace with label <clientLabel>=true may reach port 6379"),
    monitoringNamespace: dnsLabel.default("monitoring").describe("Namespace allowed to scrape the metrics port"),
    prometheusOperator: z.boolean().default(true).describe("Create PrometheusRule/ServiceMonitor (needs the prometheus-operator CRDs)"),
    prometheusSelectorLabels: z.record(labelKey, labelValue).default({})
      .describe("Labels put on the ServiceMonitor and PrometheusRule so the Prometheus selects them (kube-prometheus-stack: {\"release\": \"<helm release>\"})"),
    dashboardNamespace: dnsLabel.optional()
      .describe("Namespace of the Grafana dashboard ConfigMap (where the Grafana dashboard sidecar looks; default: `namespace`)"),
    protect: z.boolean().default(true).describe("Protect stateful resources from deletion"),
    preferredEndpointType: z.enum(["ip", "hostname"]).optional()
      .describe("What nodes give clients in MOVED/CLUSTER SLOTS: pod IP, or the announced name (the pod's DNS name; with externalAccess its external name). Default: ip; hostname with externalAccess.enabled"),
    peerResolveTimeoutSeconds: z.int().min(0).max(600).default(30)
      .describe(
        "Upper bound of a starting pod's wait for its peers' DNS names; the wait ends 5 s after the last new name resolved, so an absent pod delays the others ~5 s (full runbook: Full restart)",
      ),
    certManagerIssuer: z.string().regex(/^((Cluster)?Issuer\/)?[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, "must be an issuer name, optionally prefixed with Issuer/ or ClusterIssuer/ (e.g. ClusterIssuer/internal-ca)").optional()
      .describe("cert-manager issuer of the node certificates when TLS is on (`name` = Issuer in the namespace, or `ClusterIssuer/name`); unset: a CA and certificates from @pulumi/tls, keys secret in state"),
    externalAccess: externalAccessSchema.default(externalAccessSchema.parse({}))
      .describe("Clients outside Kubernetes (off by default): docs/external-access.md"),
    runAsUser: z.int().min(1).max(2147483647).default(999).describe("uid (and gid, fsGroup) of the Redis containers; 999 is `redis` in the official images"),
  })
  .strict();

export type KubernetesSpec = z.infer<typeof kubernetesSchema>;
