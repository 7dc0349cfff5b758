// Plain inputs for the pure Kubernetes builders: the prod stack config and object names as plain strings.
import { rawProjectConfig } from "../../../helpers/stackConfig";
import { validateConfig, type ClusterSpec } from "../../../../infra/config/schema";
import { planCluster } from "../../../../infra/plan/plan";
import { clusterContext, type ClusterContext, type PodRefs } from "../../../../infra/components/kubernetes/context";

/** The prod stack config (ACL users, TLS, monitoring on), changed by `edit`. */
export function prodContext(edit: (raw: Record<string, any>) => void = () => {}): ClusterContext {
  const raw = structuredClone(rawProjectConfig("prod")) as Record<string, any>;
  edit(raw);
  const spec: ClusterSpec = validateConfig(raw, { name: "redis-cluster-prod" });
  return clusterContext(spec, planCluster(spec), spec.kubernetes.namespace);
}

/** Names as the resources would give them; `tls`/`acl` false: those Secrets do not exist. */
export function plainRefs(opts: { tls: boolean; acl: boolean }): PodRefs {
  return {
    serviceAccountName: "sa",
    headlessServiceName: "headless",
    secretName: "auth-1",
    exporterSecretName: opts.acl ? "user-exporter-1" : "auth-1",
    configMapName: "config-1",
    bootstrapConfigMapName: "bootstrap-1",
    tls: opts.tls ? { nodes: "tls-nodes-1", client: "tls-client-1" } : undefined,
    aclSecretName: opts.acl ? "acl-1" : undefined,
  };
}
