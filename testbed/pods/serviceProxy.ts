// kube-proxy of the pods runner. Each ClusterIP Service gets a virtual IP from 10.96.0.0/24 (as the API server
// assigns from its service range); in every pod's network namespace, iptables DNAT sends <vip>:<port> to one of its
// endpoints, chosen at random per connection (statistic rules, as kube-proxy's iptables mode), and a port without
// endpoints is rejected (tcp-reset, as kube-proxy does). Endpoints are the Ready pods the selector selects (every
// running one with publishNotReadyAddresses) at the targetPort, a number or a container port's name. The virtual IPs
// exist only in the pods' own rules: host clients reach a Service through forward() instead. A LoadBalancer
// Service's ingress address is routed the same way inside the pods, for its loadBalancerSourceRanges only (kube-proxy
// short-circuits load balancer IPs; with externalTrafficPolicy Cluster it masquerades that traffic to a node address,
// emulated through the load balancer node's node port; the load balancer itself is ./loadBalancer.ts).
import { createServer, connect, type Server } from "node:net";
import { selects, type Obj } from "./spec";

/** What the proxy, the DNS and the policy engine need of a pod. */
export interface NetPod {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  ip: string;
  ready: boolean;
  phase: string;
  deleting: boolean;
  spec: Obj;
}

export interface Endpoint {
  ip: string;
  port: number;
}

const SERVICE_RANGE = "10.96.0";

/** A named port of one of the pod's containers, or the number itself; undefined when the pod has no such port. */
export function containerPort(pod: NetPod, target: number | string): number | undefined {
  if (typeof target === "number") return target;
  for (const c of pod.spec.containers ?? []) for (const p of c.ports ?? []) if (p.name === target) return p.containerPort;
  return undefined;
}

/** The pods a Service selects that back it now: Ready ones, or every running one with publishNotReadyAddresses. */
export function backingPods(svc: Obj, pods: NetPod[]): NetPod[] {
  const all = svc.spec?.publishNotReadyAddresses === true;
  return pods.filter(
    (p) => p.namespace === svc.metadata.namespace && p.ip && selects(svc.spec?.selector, p.labels) && p.phase === "Running" && !p.deleting && (all || p.ready),
  );
}

/** Endpoints of one Service port (by its `port`). */
export function endpointsOf(svc: Obj, port: number, pods: NetPod[]): Endpoint[] {
  const sp = (svc.spec?.ports ?? []).find((p: Obj) => p.port === port);
  if (!sp) return [];
  const out: Endpoint[] = [];
  for (const p of backingPods(svc, pods)) {
    const target = containerPort(p, sp.targetPort ?? sp.port);
    if (target !== undefined) out.push({ ip: p.ip, port: target });
  }
  return out.sort((a, b) => (a.ip < b.ip ? -1 : a.ip > b.ip ? 1 : 0));
}

/** A Service with the virtual IP the runner gave it (and its load balancer's ingress address, if it has one). */
export interface ClusterIpService {
  svc: Obj;
  vip: string;
  ingress?: string;
  /**
   * externalTrafficPolicy Cluster: a pod's connection to the ingress goes to this node address and the port's node
   * port, where the load balancer node DNATs and masquerades it, as kube-proxy masquerades a pod's traffic to a Cluster
   * load balancer to a node address (a policy then sees the node, not the pod).
   */
  viaNode?: { ip: string; nodePorts: Map<number, number> };
}

export const NAT_CHAIN = "RC-SERVICES";
export const REJECT_CHAIN = "RC-SERVICES-REJECT";

/** DNAT rules of one port to its endpoints, the i-th of n taken with probability 1/(n-i): each gets 1/n of the connections. */
export function dnatRules(chain: string, match: string, eps: Endpoint[]): string[] {
  return eps.map((e, i) => {
    const left = eps.length - i;
    const pick = left > 1 ? ` -m statistic --mode random --probability ${(1 / left).toFixed(5)}` : "";
    return `-A ${chain} ${match}${pick} -j DNAT --to-destination ${e.ip}:${e.port}`;
  });
}

/**
 * Source matches of a LoadBalancer's loadBalancerSourceRanges ([""]: any source). The pods' network is IPv4 only:
 * an IPv6 range can match no client, so it adds no match (only IPv6 ranges: no source is admitted).
 */
export function sourceMatches(svc: Obj): string[] {
  const ranges: string[] = svc.spec?.loadBalancerSourceRanges ?? [];
  return ranges.length === 0 ? [""] : ranges.filter((r) => !r.includes(":")).map((r) => ` -s ${r}`);
}

/**
 * The rules every pod gets, one list per table: nat DNAT for each port with endpoints, filter REJECT for each port
 * without. An ingress address is DNATed for its source ranges only; other sources keep it as destination and are
 * dropped (kube-proxy's KUBE-FW chain).
 */
export function serviceRules(services: ClusterIpService[], pods: NetPod[]): { nat: string[]; filter: string[] } {
  const nat: string[] = [];
  const filter: string[] = [];
  for (const { svc, vip, ingress, viaNode } of services) {
    for (const sp of svc.spec?.ports ?? []) {
      const eps = endpointsOf(svc, sp.port, pods);
      // A Cluster-policy one always has its node ports (checkLoadBalancerFields, allocated with its address).
      const nodePort = viaNode?.nodePorts.get(sp.port);
      const toIngress = viaNode && nodePort !== undefined && eps.length > 0 ? [{ ip: viaNode.ip, port: nodePort }] : eps;
      for (const [addr, sources, to] of [[vip, [""], eps], ...(ingress ? [[ingress, sourceMatches(svc), toIngress] as const] : [])] as const) {
        const match = `-d ${addr}/32 -p tcp --dport ${sp.port}`;
        if (eps.length === 0) filter.push(`-A ${REJECT_CHAIN} ${match} -j REJECT --reject-with tcp-reset`);
        for (const s of sources) nat.push(...dnatRules(NAT_CHAIN, `${match}${s}`, to));
        if (eps.length > 0 && !sources.includes("")) filter.push(`-A ${REJECT_CHAIN} ${match} -j DROP`);
      }
    }
  }
  return { nat, filter };
}

/** DNS records of the Services: a ClusterIP one's name is its virtual IP, a headless one's every backing pod. */
export function serviceRecords(services: Obj[], vips: Map<string, string>, pods: NetPod[]): [ip: string, name: string][] {
  const out: [string, string][] = [];
  for (const svc of services) {
    const name = `${svc.metadata.name}.${svc.metadata.namespace}.svc.cluster.local`;
    const vip = vips.get(serviceKey(svc));
    if (vip) out.push([vip, name]);
    else if (svc.spec?.clusterIP === "None") for (const p of backingPods(svc, pods)) out.push([p.ip, name]);
  }
  return out;
}

export const serviceKey = (svc: Obj) => `${svc.metadata.namespace}/${svc.metadata.name}`;

/** Virtual IPs by Service (namespace/name); a Service keeps its IP across updates, as on a cluster. */
export class ClusterIps {
  readonly byService = new Map<string, string>();
  private next = 10;

  allocate(key: string): string {
    const had = this.byService.get(key);
    if (had) return had;
    if (this.next > 250) throw new Error("pods runner: no free cluster IP in 10.96.0.0/24");
    const ip = `${SERVICE_RANGE}.${this.next++}`;
    this.byService.set(key, ip);
    return ip;
  }

  /** The Service is gone (its address is not handed out again: a stale client never reaches another Service). */
  release(key: string): void {
    this.byService.delete(key);
  }
}

/** A Service made reachable from the host: 127.0.0.1:<port>, each connection to an endpoint of the moment. */
export interface Forward {
  host: string;
  port: number;
  /** Connections made through it, by endpoint ip:port. */
  readonly connections: Map<string, number>;
  close(): Promise<void>;
}

/**
 * Listens on 127.0.0.1 and pipes each connection to an endpoint chosen at random among those `endpoints()` gives at
 * that moment (none: the connection is closed at once, as the REJECT rule does in a pod).
 */
export async function forward(endpoints: () => Endpoint[]): Promise<Forward> {
  const connections = new Map<string, number>();
  const sockets = new Set<import("node:net").Socket>();
  const server: Server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    const eps = endpoints();
    if (eps.length === 0) {
      client.resetAndDestroy();
      return;
    }
    const e = eps[Math.floor(Math.random() * eps.length)];
    const key = `${e.ip}:${e.port}`;
    connections.set(key, (connections.get(key) ?? 0) + 1);
    const upstream = connect(e.port, e.ip);
    sockets.add(upstream);
    upstream.on("close", () => sockets.delete(upstream));
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on("error", end);
    upstream.on("error", end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((ok, fail) => {
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => ok());
  });
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("pods runner: the Service forward got no port");
  return {
    host: "127.0.0.1",
    port: addr.port,
    connections,
    close: () =>
      new Promise<void>((ok) => {
        for (const s of sockets) s.destroy();
        server.close(() => ok());
      }),
  };
}
