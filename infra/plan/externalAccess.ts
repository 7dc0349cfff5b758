import type { ClusterSpec } from "../config/schema";
import { cidrWithin, parseCidr } from "../config/cidr";
import { EXTERNAL_DNS_HOSTNAME_KEYS, ipBlockSources } from "../config/externalAccess";

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
  /**
   * The NetworkPolicy's peers for the client port from outside: each source range (0.0.0.0/0 and ::/0 with
   * allowAnySource) less the pod ranges inside it, so that no pod is admitted by address (the client label decides).
   */
  ipBlocks: { cidr: string; except?: string[] }[];
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
    ipBlocks: ipBlockSources(e).map((cidr) => {
      // A pod range covering a whole source range is refused by the config (externalAccessProblems).
      const except = e.podRanges.filter((p) => cidrWithin(p, cidr));
      return { cidr, ...(except.length > 0 && { except }) };
    }),
    loadBalancerSourceRanges: e.allowAnySource ? [] : [...e.sourceRanges, ...e.podRanges],
    restricted: !e.allowAnySource,
    annotationsOf: (pod) => ({
      ...e.annotations,
      ...(e.externalDns ? Object.fromEntries(EXTERNAL_DNS_HOSTNAME_KEYS.map((k) => [k, hostOf(pod)])) : {}),
    }),
  };
}

/**
 * The preview's warning when podRanges is empty. With sourceRanges the load balancers admit only them: in-cluster
 * clients (the smoke Job, the canary) are sent the external names too, and would be dropped unless sourceRanges
 * covers the pod network. With allowAnySource the NetworkPolicy's 0.0.0.0/0 has no pod range to except.
 */
export function podRangesWarning(spec: ClusterSpec): string | undefined {
  const e = spec.kubernetes.externalAccess;
  if (!externalAccessPlan(spec)) return undefined;
  const admitsPods = "network plugins that match pod addresses against ipBlocks (Calico, for one) admit every pod of every namespace to the client port then, client label or not";
  const fix = "Add it: pulumi config set --path 'redis-cluster:kubernetes.externalAccess.podRanges[0]' <pod CIDR>";
  if (e.podRanges.length > 0) {
    // allowAnySource admits both families: a family without a pod range has nothing excepted (a dual-stack cluster).
    const families = new Set(e.podRanges.map((r) => { const c = parseCidr(r); return "family" in c ? c.family : undefined; }));
    const missing = e.allowAnySource ? ([4, 6] as const).filter((f) => !families.has(f)) : [];
    if (missing.length === 0) return undefined;
    const any = missing[0] === 4 ? "0.0.0.0/0" : "::/0";
    return `redis-cluster:kubernetes.externalAccess.podRanges has no IPv${missing[0]} range: on a dual-stack cluster the NetworkPolicy admits allowAnySource's ${any} with no pod range excepted; ${admitsPods}. Add the cluster's IPv${missing[0]} pod CIDR to podRanges (a single-stack cluster can ignore this)`;
  }
  if (e.allowAnySource) {
    return `redis-cluster:kubernetes.externalAccess.podRanges is empty: the NetworkPolicy admits allowAnySource's 0.0.0.0/0 and ::/0 with no pod range excepted; ${admitsPods}. ${fix}`;
  }
  return "redis-cluster:kubernetes.externalAccess.podRanges is empty: in-cluster clients (the smoke Job, the canary, your applications) are sent the " +
    "external names too, and the load balancers admit only sourceRanges (kube-proxy applies them inside the cluster as well); unless sourceRanges covers the " +
    `pod network, the smoke test cannot reach the nodes, and if it does, ${admitsPods}. ${fix}`;
}

/** What nodes give clients in MOVED and CLUSTER SLOTS: as configured, else hostname with external access, else ip. */
export function preferredEndpointType(spec: ClusterSpec): "ip" | "hostname" {
  return spec.kubernetes.preferredEndpointType ?? (spec.kubernetes.externalAccess.enabled ? "hostname" : "ip");
}
