import { isIP } from "node:net";
import { z } from "zod";
import { cidrProblem, cidrWithin } from "./cidr";

// Settings of `kubernetes.externalAccess` (issue 26): clients outside Kubernetes reach every node through its own
// LoadBalancer Service, by a name under `domain` that each node announces (docs/external-access.md).

/** One DNS label: lowercase letters, digits and '-', not at either end, at most 63 characters. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** Room left under the 253-character DNS limit for the pod label and its dot in front of the domain. */
export const MAX_DOMAIN_LENGTH = 253 - 64;

/** Why `domain` cannot hold the nodes' external names, or undefined when it can. */
export function domainProblem(domain: string): string | undefined {
  // Certificates and cluster-announce-hostname compare names as written: one spelling, lowercase, no root dot.
  const written = domain.replace(/\.$/, "").toLowerCase();
  if (written.length > MAX_DOMAIN_LENGTH) return `is ${written.length} characters; at most ${MAX_DOMAIN_LENGTH}, so that <pod>.<domain> stays within DNS's 253`;
  const labels = written.split(".");
  if (labels.length < 2) return "must be a DNS name with at least two labels, like redis.example.com (one dedicated to this cluster: the node certificate covers *.<domain>)";
  const bad = labels.find((l) => !DNS_LABEL.test(l));
  if (bad !== undefined) return `has the label ${JSON.stringify(bad)}; each label must be 1-63 of a-z 0-9 '-', not starting or ending with '-'`;
  if (written === "cluster.local" || written.endsWith(".cluster.local") || written.endsWith(".svc")) {
    return "is a name inside the Kubernetes cluster's own DNS, which clients outside it cannot resolve; use a domain of your DNS zone, like redis.example.com";
  }
  if (written !== domain) return `must be written lowercase and without a trailing dot; set ${written}`;
  return undefined;
}

/** A zod check reporting what `problem` says is wrong with the value. */
const problemOf = (problem: (v: string) => string | undefined) => (v: string, ctx: z.RefinementCtx) => {
  const p = problem(v);
  if (p !== undefined) ctx.addIssue({ code: "custom", message: p });
};

const ANNOTATION_KEY = /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
/** zod's own message for a bad record key names neither the key's rule nor an example. */
const annotations = z.record(z.string(), z.string()).superRefine((a, ctx) => {
  for (const k of Object.keys(a).filter((key) => !ANNOTATION_KEY.test(key)).slice(0, 5)) {
    ctx.addIssue({ code: "custom", message: `has the key ${JSON.stringify(k)}, which is no Kubernetes annotation key (like service.beta.kubernetes.io/aws-load-balancer-type)` });
  }
});

export const externalAccessSchema = z
  .object({
    enabled: z.boolean().default(false)
      .describe("Clients outside Kubernetes: one LoadBalancer Service per pod for the client port, and every node announces <pod>.<domain> (docs/external-access.md)"),
    domain: z.string().superRefine(problemOf(domainProblem)).optional()
      .describe("DNS domain of the external names (required when enabled): node <pod> announces <pod>.<domain>; use one dedicated to this cluster (the node certificate covers *.<domain>)"),
    serviceType: z.enum(["LoadBalancer", "NodePort"]).default("LoadBalancer")
      .describe("Type of the per-pod Services; only LoadBalancer works (NodePort is refused: its port differs from the port each node announces)"),
    annotations: annotations.default({})
      .describe("Annotations of every per-pod Service (the cloud's load-balancer settings, e.g. internal or NLB)"),
    externalDns: z.boolean().default(true)
      .describe("Add external-dns hostname annotations (<pod>.<domain>, both the external-dns.kubernetes.io/ and the pre-0.22 external-dns.alpha.kubernetes.io/ prefix) so the names resolve to the load balancers without a second pass"),
    addresses: z.array(z.string().refine((a) => isIP(a) !== 0, "must be an IPv4 or IPv6 address")).optional()
      .describe("Fixed load-balancer addresses, one per pod in pod order (loadBalancerIP); as many as masters x (1 + replicasPerMaster). Unset: the cloud assigns them"),
    sourceRanges: z.array(z.string().superRefine(problemOf(cidrProblem))).default([])
      .describe("CIDRs allowed to reach the client port from outside (loadBalancerSourceRanges and the NetworkPolicy); empty is refused unless allowAnySource"),
    podRanges: z.array(z.string().superRefine(problemOf(cidrProblem))).default([])
      .describe("CIDRs of the Kubernetes cluster's pod network: added to loadBalancerSourceRanges (in-cluster clients are sent the external names too, and kube-proxy applies the source ranges to them), and excepted from the NetworkPolicy's source ipBlocks (pods are admitted by the client label only)"),
    allowAnySource: z.boolean().default(false)
      .describe("Admit every source address (0.0.0.0/0, ::/0) instead of sourceRanges: anyone on the network path can try passwords"),
    allowPlaintext: z.boolean().default(false)
      .describe("Allow external access with tls.enabled false (passwords and data in the clear beyond the cluster); refused otherwise"),
  })
  .strict();

export type ExternalAccessSpec = z.infer<typeof externalAccessSchema>;

/** The inputs of the cross-field refusals, as the stack config's superRefine has them. */
export interface ExternalAccessContext {
  platform: "docker" | "kubernetes";
  nodeCount: number;
  /** tls.enabled with its platform default applied. */
  tlsEnabled: boolean;
  /** kubernetes.preferredEndpointType as configured (undefined: its default). */
  preferredEndpointType: "ip" | "hostname" | undefined;
}

/** What allowAnySource admits: every IPv4 and IPv6 source. */
export const ANY_SOURCE = ["0.0.0.0/0", "::/0"] as const;

/** The sources the NetworkPolicy admits from outside by ipBlock: sourceRanges, or every address with allowAnySource. */
export function ipBlockSources(e: ExternalAccessSpec): string[] {
  return e.allowAnySource ? [...ANY_SOURCE] : [...e.sourceRanges];
}

/** Annotation keys the per-pod Services get from externalDns (pre-0.22 external-dns reads only the alpha one). */
export const EXTERNAL_DNS_HOSTNAME_KEYS = ["external-dns.kubernetes.io/hostname", "external-dns.alpha.kubernetes.io/hostname"] as const;

/**
 * What is wrong with `kubernetes.externalAccess` given the rest of the config, as [path below externalAccess, message]
 * pairs, each naming the fix. Empty when external access is off or fine.
 */
export function externalAccessProblems(e: ExternalAccessSpec, c: ExternalAccessContext): [string[], string][] {
  if (!e.enabled) return [];
  const at = (k: string) => ["kubernetes", "externalAccess", k];
  const out: [string[], string][] = [];
  if (c.platform !== "kubernetes") {
    return [[at("enabled"), "is true but platform is docker: external access is for the Kubernetes stack; dev clients on the host use the natMap (stack output natMap); remove kubernetes.externalAccess"]];
  }
  if (e.domain === undefined) out.push([at("domain"), "is required when externalAccess.enabled is true: each node announces <pod>.<domain>; set it to a DNS domain for this cluster, like redis.example.com"]);
  if (e.serviceType === "NodePort") {
    out.push([at("serviceType"), "is NodePort, which cannot work: a NodePort listens on a port from 30000-32767 while each node announces 6379 in MOVED and CLUSTER SLOTS, and every client must reach every node by what it announces; set serviceType: LoadBalancer"]);
  }
  if (!c.tlsEnabled && !e.allowPlaintext) {
    out.push([at("allowPlaintext"), "is false but tls.enabled is false: external clients would send passwords and data in the clear; set tls.enabled: true, or externalAccess.allowPlaintext: true to accept that"]);
  }
  if (c.preferredEndpointType === "ip") {
    out.push([["kubernetes", "preferredEndpointType"], "is ip, but with externalAccess every node must give clients its external name; remove kubernetes.preferredEndpointType (it defaults to hostname then) or set it to hostname"]);
  }
  if (e.addresses !== undefined) {
    if (e.addresses.length !== c.nodeCount) {
      out.push([at("addresses"), `has ${e.addresses.length} address${e.addresses.length === 1 ? "" : "es"} for ${c.nodeCount} pods (masters x (1 + replicasPerMaster)); give one per pod, in pod order, or remove addresses to let the cloud assign them`]);
    }
    const dup = e.addresses.find((a, i) => e.addresses!.indexOf(a) !== i);
    if (dup !== undefined) out.push([at("addresses"), `lists ${dup} twice; every pod needs its own load-balancer address`]);
  }
  if (e.sourceRanges.length === 0 && !e.allowAnySource) {
    out.push([at("sourceRanges"), "is empty: say who may reach the client port from outside; list the client networks (CIDRs like 203.0.113.0/24), or set externalAccess.allowAnySource: true to admit every address"]);
  }
  if (e.sourceRanges.length > 0 && e.allowAnySource) {
    out.push([at("allowAnySource"), "is true but sourceRanges lists networks: say one or the other; remove sourceRanges to admit everyone, or allowAnySource to admit only them"]);
  }
  for (const source of ipBlockSources(e).filter((r) => cidrProblem(r) === undefined)) {
    const pods = e.podRanges.find((p) => cidrProblem(p) === undefined && cidrWithin(source, p));
    if (pods === undefined) continue;
    out.push(e.allowAnySource
      ? [at("podRanges"), `lists ${pods}, which covers allowAnySource's ${source}: a NetworkPolicy ipBlock can except only blocks inside it; list the pod network's own ranges`]
      : [at("sourceRanges"), `lists ${source}, which lies within podRanges' ${pods}: the NetworkPolicy can except only blocks inside an ipBlock, so it would admit every pod there to the client port, client label or not; remove ${source} from sourceRanges (podRanges already opens the load balancers to pods, which the policy admits by the client label) or correct podRanges`]);
  }
  if (e.externalDns) {
    for (const k of EXTERNAL_DNS_HOSTNAME_KEYS) {
      if (k in e.annotations) out.push([at("annotations"), `sets ${k}, which externalDns sets per Service to <pod>.<domain>; remove it from annotations (or set externalDns: false to manage DNS yourself)`]);
    }
  }
  return out;
}
