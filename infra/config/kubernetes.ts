import { z } from "zod";

// Settings of the `kubernetes` stack-config object (prod). Every key has a documented default.
export const kubernetesSchema = z
  .object({
    namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a DNS-1123 label (lowercase letters, digits, '-')")
      .default("redis").describe("Namespace the cluster lives in"),
    createNamespace: z.boolean().default(true).describe("Create the namespace (false: it must exist)"),
    storageClass: z.string().min(1).optional().describe("StorageClass of the data volumes (default: the cluster's default class)"),
    storageSize: z.string().regex(/^\d+(\.\d+)?(Ki|Mi|Gi|Ti)$/, "must be a Kubernetes quantity like 10Gi").default("10Gi")
      .describe("Size of each node's data volume"),
    resources: z
      .object({
        requests: z.object({ cpu: z.string().default("250m"), memory: z.string().default("1Gi") }).strict().default({ cpu: "250m", memory: "1Gi" }),
        limits: z.object({ cpu: z.string().optional(), memory: z.string().default("1Gi") }).strict().default({ memory: "1Gi" }),
      })
      .strict()
      .default({ requests: { cpu: "250m", memory: "1Gi" }, limits: { memory: "1Gi" } })
      .describe("Container resources of each Redis pod"),
    antiAffinity: z.enum(["soft", "hard"]).default("soft").describe("Pod anti-affinity across nodes: soft (preferred) or hard (required)"),
    topologyKey: z.string().default("kubernetes.io/hostname").describe("Topology key for anti-affinity and spread"),
    clientLabel: z.string().default("redis-cluster-client").describe("Pods with label <clientLabel>=true may reach port 6379"),
    monitoringNamespace: z.string().default("monitoring").describe("Namespace allowed to scrape the metrics port"),
    prometheusOperator: z.boolean().default(true).describe("Create PrometheusRule/ServiceMonitor (needs the prometheus-operator CRDs)"),
    protect: z.boolean().default(true).describe("Protect stateful resources from deletion"),
  })
  .strict();

export type KubernetesSpec = z.infer<typeof kubernetesSchema>;
