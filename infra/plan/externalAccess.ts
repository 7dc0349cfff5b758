import type { ClusterSpec } from "../config/schema";
import { EXTERNAL_DNS_HOSTNAME_KEYS } from "../config/externalAccess";

/**
 * External access (kubernetes.externalAccess, docs/external-access.md): node <pod> announces `<pod>.<domain>` to
 * clients (cluster-announce-hostname, preferred endpoint type hostname) while the cluster bus keeps the pod IP
 * (cluster-announce-ip); one LoadBalancer Service per pod carries the client port. The names are fixed by the config,
 * so the nodes announce them from their first start: no second pass once the load balancers have addresses.
 */
export interface ExternalAccessPlan {
  domain: string;
  /** The name node `pod` announces and external clients connect to (a SAN of the node certificate). */
  hostOf(pod: string): string;
  /** Fixed load-balancer address of node i (loadBalancerIP), when configured. */
  addressOf(i: number): string | undefined;
  /** Source CIDRs of the client port from outside (the NetworkPolicy's ipBlocks); ["0.0.0.0/0", "::/0"] with allowAnySource. */
  sourceRanges: string[];
  /** What the load balancers admit: sourceRanges and the pod network (in-cluster clients reach the same addresses). */
  loadBalancerSourceRanges: string[];
  /** Whether sourceRanges restricts anything (false with allowAnySource: no loadBalancerSourceRanges then). */
  restricted: boolean;
  /** Annotations of node `pod`'s Service: the configured ones and, with externalDns, its hostname. */
  annotationsOf(pod: string): Record<string, string>;
}

/** The plan of external access, or undefined when it is off (or not on Kubernetes). */
export function externalAccessPlan(spec: ClusterSpec): ExternalAccessPlan | undefined {
  const e = spec.kubernetes.externalAccess;
  if (!e.enabled || spec.platform !== "kubernetes" || e.domain === undefined) return undefined;
  const domain = e.domain;
  const hostOf = (pod: string) => `${pod}.${domain}`;
  return {
    domain,
    hostOf,
    addressOf: (i) => e.addresses?.[i],
    sourceRanges: e.allowAnySource ? ["0.0.0.0/0", "::/0"] : [...e.sourceRanges],
    loadBalancerSourceRanges: e.allowAnySource ? [] : [...e.sourceRanges, ...e.podRanges],
    restricted: !e.allowAnySource,
    annotationsOf: (pod) => ({
      ...e.annotations,
      ...(e.externalDns ? Object.fromEntries(EXTERNAL_DNS_HOSTNAME_KEYS.map((k) => [k, hostOf(pod)])) : {}),
    }),
  };
}

/**
 * The preview's warning when the load balancers admit only sourceRanges: in-cluster clients (the smoke Job, the
 * canary) are sent the external names too, and would be dropped unless sourceRanges covers the pod network.
 */
export function podRangesWarning(spec: ClusterSpec): string | undefined {
  const e = spec.kubernetes.externalAccess;
  if (!externalAccessPlan(spec) || e.allowAnySource || e.podRanges.length > 0) return undefined;
  return "redis-cluster:kubernetes.externalAccess.podRanges is empty: in-cluster clients (the smoke Job, the canary, your applications) are sent the " +
    "external names too, and the load balancers admit only sourceRanges (kube-proxy applies them inside the cluster as well); unless sourceRanges covers the " +
    "pod network, the smoke test cannot reach the nodes. " +
    "Add it: pulumi config set --path 'redis-cluster:kubernetes.externalAccess.podRanges[0]' <pod CIDR>";
}

/** What nodes give clients in MOVED and CLUSTER SLOTS: as configured, else hostname with external access, else ip. */
export function preferredEndpointType(spec: ClusterSpec): "ip" | "hostname" {
  return spec.kubernetes.preferredEndpointType ?? (spec.kubernetes.externalAccess.enabled ? "hostname" : "ip");
}
