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
  /** Source CIDRs of the client port from outside; ["0.0.0.0/0", "::/0"] with allowAnySource. */
  sourceRanges: string[];
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
    restricted: !e.allowAnySource,
    annotationsOf: (pod) => ({
      ...e.annotations,
      ...(e.externalDns ? Object.fromEntries(EXTERNAL_DNS_HOSTNAME_KEYS.map((k) => [k, hostOf(pod)])) : {}),
    }),
  };
}

/** What nodes give clients in MOVED and CLUSTER SLOTS: as configured, else hostname with external access, else ip. */
export function preferredEndpointType(spec: ClusterSpec): "ip" | "hostname" {
  return spec.kubernetes.preferredEndpointType ?? (spec.kubernetes.externalAccess.enabled ? "hostname" : "ip");
}
