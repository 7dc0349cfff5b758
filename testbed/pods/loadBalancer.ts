// `type: LoadBalancer` Services of the pods runner, as a cloud's load balancer and kube-proxy handle them on one node:
// - each gets an ingress address from the runner's own pool (203.0.113.0/24, or `loadBalancerIP` when it lies in the
//   pool and is free), reported as status.loadBalancer.ingress, and a node port per port (30000-32767) unless
//   `allocateLoadBalancerNodePorts: false`;
// - a "load balancer node" (a container on the pods' network, LB_NODE_HOST) DNATs <ingress>:<port> to the Ready pods
//   the selector selects, for sources in `loadBalancerSourceRanges` only (others dropped, kube-proxy's KUBE-FW chain);
//   `externalTrafficPolicy: Local` keeps the client's address (the pods see it, so NetworkPolicy ipBlock rules apply),
//   `Cluster` masquerades it to the node's address (which a NetworkPolicy admits as its node's, as on a cluster);
//   <node>:<nodePort> works the same from the pods' network (always masqueraded);
// - inside the pods, a connection to an ingress address goes straight to the endpoints (kube-proxy short-circuits
//   load balancer IPs), under the same source ranges (./serviceProxy.ts); with `Cluster` it goes through the node's
//   node port instead, which masquerades it to the node's address as kube-proxy would;
// - the external-dns hostname annotation publishes <name> -> <ingress> in the external zone, which the outside
//   client (./outsideClient.ts) and the pods (their cluster DNS forwards upstream) resolve.
// The outside client's only way in is the node's other leg: no route to the pods is forwarded unless DNATed.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { isIPv4 } from "node:net";
import type Docker from "dockerode";
import { cidrProblem } from "../../infra/config/cidr";
import { Unemulated } from "../refuse";
import { OUTSIDE_NET, OutsideClient } from "./outsideClient";
import { dnatRules, endpointsOf, serviceKey, sourceMatches, type NetPod } from "./serviceProxy";
import { refuse, type Obj } from "./spec";

/** The runner's load balancer pool (TEST-NET-3: never a real address). */
export const LB_POOL = { prefix: "203.0.113", first: 10, last: 250 };
/** The load balancer node's address on the pods' network: `<prefix>.2` (pods get .10 and up, the gateway .1). */
export const LB_NODE_HOST = 2;
const NODE_PORTS = { first: 30000, last: 32767 };

/** The annotations external-dns publishes a Service's ingress under (comma-separated names; alpha: before 0.22). */
export const EXTERNAL_DNS_HOSTNAME = ["external-dns.kubernetes.io/hostname", "external-dns.alpha.kubernetes.io/hostname"];
/** Annotations of a LoadBalancer Service the runner honours; any other (a cloud's LB settings) is refused by name. */
const LB_ANNOTATIONS = EXTERNAL_DNS_HOSTNAME;

const unemulated = (where: string, msg: string): never => {
  throw new Unemulated(`pods runner: ${where}: ${msg}`);
};
const invalid = (where: string, msg: string): never => {
  throw new Error(`pods runner: ${where}: ${msg} (the API server refuses it)`);
};

/** The Service spec fields of type LoadBalancer; each is emulated (see the file's head). */
export const LB_SPEC_FIELDS = ["loadBalancerIP", "loadBalancerSourceRanges", "externalTrafficPolicy", "allocateLoadBalancerNodePorts"];

/** The Service's type-dependent fields as the API server and the runner check them; `lb`: is it type LoadBalancer. */
export function checkLoadBalancerFields(o: Obj, where: string): void {
  const spec = o.spec ?? {};
  const lb = spec.type === "LoadBalancer";
  for (const f of LB_SPEC_FIELDS) if (!lb && spec[f] !== undefined) invalid(where, `spec.${f} may only be set when spec.type is LoadBalancer`);
  for (const [i, p] of (spec.ports ?? []).entries()) {
    if (p.nodePort !== undefined) throw new Unemulated(`pods runner: ${where} port ${p.name ?? i} sets 'nodePort': a fixed node port is not implemented (type LoadBalancer gets one allocated); leave it out`);
  }
  if (!lb) return;
  if (spec.clusterIP === "None") invalid(where, "spec.clusterIP None (headless) is not allowed for type LoadBalancer");
  if (![undefined, "Cluster", "Local"].includes(spec.externalTrafficPolicy)) invalid(where, `spec.externalTrafficPolicy ${spec.externalTrafficPolicy}: Cluster or Local`);
  if (![undefined, true, false].includes(spec.allocateLoadBalancerNodePorts)) invalid(where, `spec.allocateLoadBalancerNodePorts ${spec.allocateLoadBalancerNodePorts}: a boolean`);
  // A pod's traffic to a Cluster load balancer is masqueraded to a node address; the runner does that through the
  // load balancer node's node port, so it needs one.
  if (spec.externalTrafficPolicy !== "Local" && spec.allocateLoadBalancerNodePorts === false) {
    unemulated(where, "allocateLoadBalancerNodePorts false with externalTrafficPolicy Cluster (the default): a pod's connection to the load balancer is masqueraded to a node address through a node port here; allocate node ports or use Local");
  }
  if (spec.loadBalancerIP !== undefined && !isIPv4(spec.loadBalancerIP)) invalid(where, `spec.loadBalancerIP ${spec.loadBalancerIP} is not an IPv4 address`);
  for (const r of spec.loadBalancerSourceRanges ?? []) {
    const problem = cidrProblem(r);
    // Stricter than the API server on host bits, as the config is (one parser).
    if (problem !== undefined) throw new Error(`pods runner: ${where}: spec.loadBalancerSourceRanges ${r} ${problem}`);
  }
  const annotations = o.metadata?.annotations ?? {};
  refuse(`${where}.metadata.annotations (a LoadBalancer's: a cloud's settings are not emulated)`, annotations, LB_ANNOTATIONS);
  for (const name of hostnamesOf(o)) {
    if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(name)) {
      unemulated(`${where}.metadata.annotations (external-dns hostname)`, `'${name}' is not a DNS name external-dns could publish`);
    }
  }
}

/** The names the external-dns annotations ask for (lower case, no trailing dot, each once). */
export function hostnamesOf(svc: Obj): string[] {
  const names = EXTERNAL_DNS_HOSTNAME.flatMap((k) => {
    const v = svc.metadata?.annotations?.[k];
    return typeof v === "string" ? v.split(",") : [];
  });
  return [...new Set(names.map((s) => s.trim().replace(/\.$/, "").toLowerCase()).filter(Boolean))];
}

const isLb = (svc: Obj) => svc.spec?.type === "LoadBalancer";

/** Ingress addresses and node ports by Service; a Service keeps both across updates, as on a cloud. */
export class LoadBalancerPool {
  readonly ingress = new Map<string, string>();
  /** `<namespace>/<name>/<port>` -> node port. */
  readonly nodePorts = new Map<string, number>();
  private nextPort = NODE_PORTS.first;

  /** The Service's ingress address: its own, else `loadBalancerIP` (in the pool, free), else the next free one. */
  assign(svc: Obj, where: string): string {
    const key = serviceKey(svc);
    const wanted: string | undefined = svc.spec?.loadBalancerIP;
    const had = this.ingress.get(key);
    if (had && (!wanted || wanted === had)) return had;
    const taken = new Map([...this.ingress].map(([k, ip]) => [ip, k]));
    if (wanted) {
      const n = Number(wanted.split(".")[3]);
      if (!wanted.startsWith(`${LB_POOL.prefix}.`) || n < LB_POOL.first || n > LB_POOL.last) {
        throw new Unemulated(`pods runner: ${where}: spec.loadBalancerIP ${wanted} is outside the runner's load balancer pool ${LB_POOL.prefix}.${LB_POOL.first}-${LB_POOL.last} (a cloud would not give it either): use one of those or leave it unset`);
      }
      const owner = taken.get(wanted);
      if (owner && owner !== key) throw new Error(`pods runner: ${where}: spec.loadBalancerIP ${wanted} is taken by Service ${owner}`);
      this.ingress.set(key, wanted);
      return wanted;
    }
    for (let n = LB_POOL.first; n <= LB_POOL.last; n++) {
      const ip = `${LB_POOL.prefix}.${n}`;
      if (!taken.has(ip)) {
        this.ingress.set(key, ip);
        return ip;
      }
    }
    throw new Error(`pods runner: ${where}: the load balancer pool ${LB_POOL.prefix}.${LB_POOL.first}-${LB_POOL.last} is exhausted`);
  }

  /** The node ports allocated to the Service's ports, by port. */
  nodePortsOf(svc: Obj): Map<number, number> {
    const out = new Map<number, number>();
    for (const p of svc.spec?.ports ?? []) {
      const np = this.nodePorts.get(`${serviceKey(svc)}/${p.port}`);
      if (np !== undefined) out.set(p.port, np);
    }
    return out;
  }

  /** Node ports of the Service's ports (none with allocateLoadBalancerNodePorts false), by port. */
  allocateNodePorts(svc: Obj): Map<number, number> {
    const out = new Map<number, number>();
    const key = serviceKey(svc);
    if (svc.spec?.allocateLoadBalancerNodePorts === false) {
      for (const k of [...this.nodePorts.keys()]) if (k.startsWith(`${key}/`)) this.nodePorts.delete(k);
      return out;
    }
    const used = new Set(this.nodePorts.values());
    for (const p of svc.spec?.ports ?? []) {
      const k = `${key}/${p.port}`;
      let np = this.nodePorts.get(k);
      for (let i = 0; np === undefined && i <= NODE_PORTS.last - NODE_PORTS.first; i++) {
        const c = this.nextPort;
        this.nextPort = c >= NODE_PORTS.last ? NODE_PORTS.first : c + 1;
        if (!used.has(c)) np = c;
      }
      if (np === undefined) throw new Error("pods runner: no free node port in 30000-32767");
      this.nodePorts.set(k, np);
      used.add(np);
      out.set(p.port, np);
    }
    return out;
  }

  /** The Service is gone or no longer a LoadBalancer: its address and node ports go back to the pool. */
  release(key: string): void {
    this.ingress.delete(key);
    for (const k of [...this.nodePorts.keys()]) if (k.startsWith(`${key}/`)) this.nodePorts.delete(k);
  }
}

/** A LoadBalancer Service with its ingress address and node ports. */
export interface LbService {
  svc: Obj;
  ingress: string;
  /** port -> node port. */
  nodePorts: Map<number, number>;
}

/** The stored LoadBalancer Services that have an address. */
export function lbServices(services: Obj[], pool: LoadBalancerPool): LbService[] {
  return services.flatMap((svc) => {
    const ingress = isLb(svc) ? pool.ingress.get(serviceKey(svc)) : undefined;
    return ingress ? [{ svc, ingress, nodePorts: pool.nodePortsOf(svc) }] : [];
  });
}

/** The external zone: each external-dns name of a LoadBalancer Service -> its ingress address. */
export function externalRecords(lbs: LbService[]): [ip: string, name: string][] {
  return lbs.flatMap(({ svc, ingress }) => hostnamesOf(svc).map((n) => [ingress, n] as [string, string]));
}

export const LB_PRE = "RC-LB-PRE";
export const LB_POST = "RC-LB-POST";
export const LB_FWD = "RC-LB-FWD";

/**
 * The iptables-restore text of the load balancer node (its own network namespace): its chains rewritten, and with
 * `first` the jumps into them and FORWARD's DROP policy. `nodeIp`: its address on the pods' network; `outsideIf`:
 * its leg to the outside client.
 */
export function nodeRules(lbs: LbService[], pods: NetPod[], nodeIp: string, outsideIf: string, first: boolean): string {
  const nat: string[] = [];
  const filter: string[] = [];
  for (const { svc, ingress, nodePorts } of lbs) {
    const local = svc.spec?.externalTrafficPolicy === "Local";
    for (const sp of svc.spec?.ports ?? []) {
      const eps = endpointsOf(svc, sp.port, pods);
      const lbMatch = `-d ${ingress}/32 -p tcp --dport ${sp.port}`;
      // Sources outside the ranges are not DNATed: the FORWARD policy drops them.
      for (const s of sourceMatches(svc)) nat.push(...dnatRules(LB_PRE, `${lbMatch}${s}`, eps));
      if (!local) nat.push(`-A ${LB_POST} -o eth0 -m conntrack --ctstate DNAT --ctorigdst ${ingress}/32 --ctorigdstport ${sp.port} -j MASQUERADE`);
      const np = nodePorts.get(sp.port);
      if (np !== undefined) {
        // From the pods' network: masqueraded, else a pod's reply would go straight back to a client that never sent to it.
        nat.push(...dnatRules(LB_PRE, `-d ${nodeIp}/32 -p tcp --dport ${np}`, eps));
        nat.push(`-A ${LB_POST} -m conntrack --ctstate DNAT --ctorigdst ${nodeIp}/32 --ctorigdstport ${np} -j MASQUERADE`);
      }
      if (eps.length === 0) filter.push(`-A ${LB_FWD} ${lbMatch} -j REJECT --reject-with tcp-reset`);
    }
  }
  return [
    "*nat",
    `:${LB_PRE} - [0:0]`,
    `:${LB_POST} - [0:0]`,
    ...(first ? [`-A PREROUTING -j ${LB_PRE}`, `-A POSTROUTING -j ${LB_POST}`] : []),
    ...nat,
    "COMMIT",
    "*filter",
    ...(first ? [":FORWARD DROP [0:0]"] : []),
    `:${LB_FWD} - [0:0]`,
    ...(first ? [`-A FORWARD -j ${LB_FWD}`] : []),
    `-A ${LB_FWD} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    // What was DNATed passed its Service's source ranges; nothing else from outside is forwarded (no pod IP directly).
    `-A ${LB_FWD} -m conntrack --ctstate DNAT -j ACCEPT`,
    ...filter,
    `-A ${LB_FWD} -i eth0 -o ${outsideIf} -j ACCEPT`,
    "COMMIT",
    "",
  ].join("\n");
}

/** What the load balancer node needs of the runner. */
export interface LbNodeEnv {
  docker: Docker;
  /** The pods' Docker network and its prefix (first three octets). */
  network: string;
  prefix: string;
  /** An image with `sleep` (the node runs nothing else: its rules are written from the host). */
  image: string;
  cgroupParent?: string;
  log(line: string): void;
}

const ipIn = (pid: number, args: string[]) => {
  const r = spawnSync("nsenter", ["-t", String(pid), "-n", "ip", ...args], { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`load balancer node: ip ${args.join(" ")} in pid ${pid}: ${(r.stderr || r.error?.message || "").trim()}`);
};

/**
 * The load balancer node: a container on the pods' network (forwarding on, nothing running but a sleep) with a veth
 * leg to the outside client's namespace. Its rules come from nodeRules(); each pod routes the outside network through
 * it (routeFrom), as a node is the pods' way out, so replies to a kept client address find their way back.
 */
export class LoadBalancerNode {
  readonly ip: string;
  /** Its leg towards the outside client. */
  readonly outsideIf: string;
  private constructor(readonly pid: number, private readonly id: string, readonly outside: OutsideClient, env: LbNodeEnv, ifName: string) {
    this.ip = `${env.prefix}.${LB_NODE_HOST}`;
    this.outsideIf = ifName;
  }

  static async start(env: LbNodeEnv): Promise<LoadBalancerNode> {
    const ip = `${env.prefix}.${LB_NODE_HOST}`;
    const c = await env.docker.createContainer({
      name: `rc-lb-node-${randomBytes(3).toString("hex")}`,
      Image: env.image,
      Entrypoint: ["sleep"],
      Cmd: ["infinity"],
      User: "65535:65535",
      Labels: { "redis-cluster.pods/lb-node": "true" },
      HostConfig: {
        NetworkMode: env.network,
        CgroupParent: env.cgroupParent,
        ReadonlyRootfs: true,
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        Sysctls: { "net.ipv4.ip_forward": "1" },
      },
      NetworkingConfig: { EndpointsConfig: { [env.network]: { IPAMConfig: { IPv4Address: ip } } } },
    } as any);
    let outside: OutsideClient | undefined;
    try {
      await c.start();
      const pid = (await c.inspect()).State?.Pid ?? 0;
      if (!pid) throw new Error("load balancer node: its container has no pid");
      outside = OutsideClient.create(env.log);
      const tag = outside.netns.slice(-6);
      const [nodeIf, clientIf] = [`rcl${tag}`, `rco${tag}`];
      const r = spawnSync("ip", ["link", "add", nodeIf, "type", "veth", "peer", "name", clientIf, "netns", outside.netns], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`load balancer node: veth: ${r.stderr.trim()}`);
      const mv = spawnSync("ip", ["link", "set", nodeIf, "netns", String(pid)], { encoding: "utf8" });
      if (mv.status !== 0) {
        spawnSync("ip", ["link", "del", nodeIf]);
        throw new Error(`load balancer node: veth into its namespace: ${mv.stderr.trim()}`);
      }
      ipIn(pid, ["addr", "add", `${OUTSIDE_NET.node}/24`, "dev", nodeIf]);
      ipIn(pid, ["link", "set", nodeIf, "up"]);
      for (const args of [["addr", "add", `${OUTSIDE_NET.client}/24`, "dev", clientIf], ["link", "set", clientIf, "up"], ["route", "add", "default", "via", OUTSIDE_NET.node]]) {
        const x = spawnSync("ip", ["-n", outside.netns, ...args], { encoding: "utf8" });
        if (x.status !== 0) throw new Error(`outside client: ip ${args.join(" ")}: ${x.stderr.trim()}`);
      }
      return new LoadBalancerNode(pid, c.id, outside, env, nodeIf);
    } catch (e) {
      await outside?.stop();
      await c.remove({ force: true }).catch(() => undefined);
      throw e;
    }
  }

  /** The pod (its sandbox's pid) sends traffic for the outside network through this node. */
  routeFrom(podPid: number): void {
    ipIn(podPid, ["route", "replace", OUTSIDE_NET.cidr, "via", this.ip]);
  }

  /** Removes the outside client (and with its namespace the veth pair) and the node; what is left (nothing, normally). */
  async stop(docker: Docker): Promise<string[]> {
    const left = await this.outside.stop();
    await docker.getContainer(this.id).remove({ force: true }).catch(() => undefined);
    return left;
  }
}
