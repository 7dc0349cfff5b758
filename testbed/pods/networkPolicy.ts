// The pods runner's NetworkPolicy engine, ingress only (what the program declares): a pod selected by a policy with
// Ingress accepts only what one of those policies' rules allows, enforced by iptables in its own network namespace
// (default deny: DROP, as most network plugins). As the NetworkPolicy API defines it, a pod cannot block itself
// (loopback) and traffic from the node it runs on is always allowed: here the host's address on the pods' bridge,
// where host clients (scenarios, checkers) connect from, and the load balancer node's (what it masquerades, as a
// cluster's node SNATs externalTrafficPolicy Cluster traffic to its own address). Replies of allowed connections pass (conntrack). An ipBlock
// peer admits its CIDR less its `except` blocks by source address: clients outside the cluster as a LoadBalancer with
// externalTrafficPolicy Local hands them over (./loadBalancer.ts). Like any plugin that matches pod addresses against
// ipBlocks (Calico), a pod inside the CIDR and outside `except` is admitted too, whatever its labels.
import { Address4, Address6 } from "ip-address";
import { blockOf, cidrProblem, cidrWithin } from "../../infra/config/cidr";
import { Unemulated } from "../refuse";
import { containerPort, type NetPod } from "./serviceProxy";
import { refuse, type Obj } from "./spec";

export const INGRESS_CHAIN = "RC-INGRESS";

const unemulated = (where: string, msg: string): never => {
  throw new Unemulated(`pods runner: ${where}: ${msg}`);
};

/** What the engine implements of a NetworkPolicy; anything else is refused by name. */
export function checkNetworkPolicy(o: Obj, where: string): void {
  const spec = o.spec ?? {};
  const types: string[] = spec.policyTypes ?? ["Ingress"];
  if (types.includes("Egress") || spec.egress !== undefined) unemulated(where, "Egress policies (spec.policyTypes Egress, spec.egress) are not enforced");
  (spec.ingress ?? []).forEach((rule: Obj, i: number) => {
    const at = `${where}.spec.ingress[${i}]`;
    refuse(at, rule, ["from", "ports"]);
    (rule.from ?? []).forEach((peer: Obj, j: number) => {
      refuse(`${at}.from[${j}]`, peer, ["podSelector", "namespaceSelector", "ipBlock"]);
      for (const k of ["podSelector", "namespaceSelector"]) if (peer[k]) checkSelector(`${at}.from[${j}].${k}`, peer[k]);
      if (peer.ipBlock) {
        if (peer.podSelector || peer.namespaceSelector) throw new Error(`pods runner: ${at}.from[${j}]: ipBlock may not be combined with a selector (the API server refuses it)`);
        refuse(`${at}.from[${j}].ipBlock`, peer.ipBlock, ["cidr", "except"]);
        const { cidr, except = [] } = peer.ipBlock;
        const problem = typeof cidr === "string" ? cidrProblem(cidr) : "is no string";
        if (problem !== undefined) throw new Error(`pods runner: ${at}.from[${j}].ipBlock.cidr ${cidr} ${problem}`);
        (except as unknown[]).forEach((x, k) => {
          const where = `pods runner: ${at}.from[${j}].ipBlock.except[${k}] ${x}`;
          const p = typeof x === "string" ? cidrProblem(x) : "is no string";
          if (p !== undefined) throw new Error(`${where} ${p}`);
          if (!cidrWithin(x as string, cidr) || cidrWithin(cidr, x as string)) throw new Error(`${where} is not a strict subset of the cidr ${cidr} (the API server refuses it)`);
        });
      }
    });
    (rule.ports ?? []).forEach((p: Obj, j: number) => {
      refuse(`${at}.ports[${j}]`, p, ["protocol", "port"]);
      if ((p.protocol ?? "TCP") !== "TCP") unemulated(`${at}.ports[${j}]`, `protocol ${p.protocol}: only TCP is enforced`);
    });
  });
}

const OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"];

/** A label selector: matchLabels and matchExpressions, with what the API server refuses of an expression refused. */
function checkSelector(where: string, sel: Obj): void {
  refuse(where, sel, ["matchLabels", "matchExpressions"]);
  (sel.matchExpressions ?? []).forEach((e: Obj, i: number) => {
    const at = `${where}.matchExpressions[${i}]`;
    refuse(at, e, ["key", "operator", "values"]);
    if (!OPERATORS.includes(e.operator)) throw new Error(`pods runner: ${at}.operator ${e.operator} is not one of ${OPERATORS.join(", ")} (the API server refuses it)`);
    const needsValues = e.operator === "In" || e.operator === "NotIn";
    if (needsValues !== (e.values ?? []).length > 0) throw new Error(`pods runner: ${at}: ${e.operator} ${needsValues ? "needs" : "takes no"} values (the API server refuses it)`);
  });
}

/** One expression of a label selector holds for `labels`. */
function holds(e: Obj, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, e.key);
  if (e.operator === "In") return has && e.values.includes(labels[e.key]);
  if (e.operator === "NotIn") return !has || !e.values.includes(labels[e.key]);
  return e.operator === "Exists" ? has : !has;
}

/** Every pair of `sel` is a label of `labels` and every expression holds; an empty selector selects everything (as in a NetworkPolicy peer). */
const matches = (sel: Obj | undefined, labels: Record<string, string>) =>
  Object.entries(sel?.matchLabels ?? {}).every(([k, v]) => labels[k] === v) && (sel?.matchExpressions ?? []).every((e: Obj) => holds(e, labels));

/** Sources a peer admits (address/prefix): an ipBlock's CIDR, or pods of the policy's namespace (podSelector), of selected namespaces, or both. */
function peerIps(peer: Obj, policyNs: string, namespaces: Map<string, Record<string, string>>, pods: NetPod[]): string[] {
  // The pods' network is IPv4 only: an IPv6 block can match no source.
  if (peer.ipBlock) return peer.ipBlock.cidr.includes(":") ? [] : cidrsWithout(peer.ipBlock.cidr, peer.ipBlock.except ?? []);
  return pods
    .filter((p) => p.ip && p.phase === "Running")
    .filter((p) => (peer.namespaceSelector ? matches(peer.namespaceSelector, namespaces.get(p.namespace) ?? { "kubernetes.io/metadata.name": p.namespace }) : p.namespace === policyNs))
    .filter((p) => (peer.podSelector ? matches(peer.podSelector, p.labels) : true))
    .map((p) => `${p.ip}/32`);
}

/**
 * `cidr` less the `except` blocks, as the CIDRs that cover the rest: an iptables rule matches one source block, and
 * the pod's chain cannot skip a rule (a RETURN would leave the chain, and INPUT accepts; another peer may still
 * admit an excepted address). At most (prefix bits) x except.length blocks.
 */
export function cidrsWithout(cidr: string, except: string[]): string[] {
  if (except.some((e) => cidrWithin(cidr, e))) return [];
  if (!except.some((e) => cidrWithin(e, cidr))) return [cidr];
  const block = blockOf(cidr);
  const v4 = block instanceof Address4;
  const prefix = block.subnetMask + 1;
  const start = block.startAddress().bigInt();
  const half = 1n << BigInt((v4 ? 32 : 128) - prefix);
  const text = (v: bigint) => `${(v4 ? Address4.fromBigInt(v) : Address6.fromBigInt(v)).correctForm()}/${prefix}`;
  return [start, start + half].flatMap((v) => cidrsWithout(text(v), except));
}

/**
 * The pod's ingress chain: empty (everything allowed) when no policy with Ingress selects it; else loopback, replies,
 * the node, each rule's sources x ports, then DROP. `namespaces`: labels by namespace name (Namespace objects, with
 * the automatic kubernetes.io/metadata.name).
 */
export function ingressRules(pod: NetPod, policies: Obj[], namespaces: Map<string, Record<string, string>>, pods: NetPod[], nodeIps: string | string[]): string[] {
  const selecting = policies.filter((np) => np.metadata.namespace === pod.namespace && matches(np.spec?.podSelector, pod.labels));
  if (selecting.length === 0) return [];
  const out = [
    `-A ${INGRESS_CHAIN} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    `-A ${INGRESS_CHAIN} -i lo -j ACCEPT`,
    ...[nodeIps].flat().map((ip) => `-A ${INGRESS_CHAIN} -s ${ip}/32 -j ACCEPT`),
  ];
  for (const np of selecting) {
    for (const rule of np.spec?.ingress ?? []) {
      const from: Obj[] = rule.from ?? [];
      // No `from`: any source; a peer that selects no pod admits nobody.
      const sources = from.length === 0 ? [undefined] : [...new Set(from.flatMap((peer) => peerIps(peer, np.metadata.namespace, namespaces, pods)))];
      const ports: Obj[] = rule.ports ?? [];
      // A named port admits this pod's container port of that name; a name it lacks admits nothing.
      const dports = ports.length === 0 ? ["all"] : ports.map((p) => (p.port === undefined ? "tcp" : containerPort(pod, p.port))).filter((p) => p !== undefined);
      for (const s of sources) {
        for (const d of dports) {
          const src = s ? ` -s ${s}` : "";
          const dst = d === "all" ? "" : d === "tcp" ? " -p tcp" : ` -p tcp --dport ${d}`;
          out.push(`-A ${INGRESS_CHAIN}${src}${dst} -j ACCEPT`);
        }
      }
    }
  }
  out.push(`-A ${INGRESS_CHAIN} -j DROP`);
  return [...new Set(out)];
}
