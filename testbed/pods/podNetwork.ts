// The pods' network as the cluster sees it: the DNS (./dns.ts: StatefulSet pods under their headless Service, every
// Service's own name), kube-proxy's rules (./serviceProxy.ts) and NetworkPolicy ingress (./networkPolicy.ts), kept in
// step with the pods and the stored objects. sync() recomputes it all and rewrites the iptables of each pod whose rules
// changed, in its own network namespace (nsenter into the sandbox's, iptables-restore of the runner's chains only).
// A new pod gets its rules (and the pods it may reach learn its IP) before its containers start: podUp().
// LoadBalancer Services (./loadBalancer.ts): the load balancer node starts with the first one; its rules, the external
// zone (the outside client's and the pods' DNS) and each pod's route to the outside follow in the same sync().
import { spawn } from "node:child_process";
import { readlinkSync } from "node:fs";
import type { ClusterDns } from "./dns";
import { LoadBalancerPool, externalRecords, lbServices, nodeRules, type LoadBalancerNode } from "./loadBalancer";
import type { OutsideClient } from "./outsideClient";
import { INGRESS_CHAIN, ingressRules } from "./networkPolicy";
import { ClusterIps, NAT_CHAIN, REJECT_CHAIN, endpointsOf, forward, serviceKey, serviceRecords, serviceRules, type Forward, type NetPod } from "./serviceProxy";
import type { Obj } from "./spec";

/** A pod whose rules can be written: its sandbox's main process holds the network namespace. */
export interface NetnsPod extends NetPod {
  sandboxPid: number;
}

export interface PodNetworkHost {
  readonly objects: Map<string, Obj>;
  /** Every pod that exists (StatefulSet, Deployment and Job pods). */
  allPods(): NetnsPod[];
  /** The StatefulSet pods' records under their headless Service (statefulSet.ts). */
  podRecords(): [string, string][];
  log(line: string): void;
  /** Starts the load balancer node and the outside client (with the first LoadBalancer Service). */
  startLoadBalancerNode(): Promise<LoadBalancerNode>;
}

/** Runs iptables-restore in the pod's network namespace (only the runner's own chains: --noflush). */
function restoreIn(pid: number, text: string): Promise<void> {
  // Never the host's own rules (a pid reused by a host process after its sandbox went).
  let ns = "";
  try {
    ns = readlinkSync(`/proc/${pid}/ns/net`);
  } catch (e) {
    return Promise.reject(new Error(`pid ${pid} is gone: ${(e as Error).message}`));
  }
  if (ns === readlinkSync("/proc/self/ns/net")) return Promise.reject(new Error(`pid ${pid} is in the host's network namespace`));
  return new Promise((ok, fail) => {
    const p = spawn("nsenter", ["-t", String(pid), "-n", "iptables-restore", "--noflush"], { stdio: ["pipe", "ignore", "pipe"] });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 10_000);
    p.on("error", (e) => {
      clearTimeout(timer);
      fail(e);
    });
    p.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) ok();
      else fail(new Error(`iptables-restore in pid ${pid}'s network namespace exited ${code}: ${err.trim()}`));
    });
    p.stdin.end(text);
  });
}

export class PodNetwork {
  readonly clusterIps = new ClusterIps();
  readonly loadBalancers = new LoadBalancerPool();
  private lbNode?: LoadBalancerNode;
  private lbStarting?: Promise<LoadBalancerNode>;
  /** The load balancer node's rules as last written. */
  private lbApplied?: string;
  /** Sandbox pids routed to the outside network through the node. */
  private readonly routed = new Set<number>();
  /** The last rules written (or being written) per pod, by sandbox pid. */
  private readonly applied = new Map<number, string>();
  private readonly writing = new Map<number, Promise<void>>();
  private readonly forwards: Forward[] = [];
  private timer?: NodeJS.Timeout;
  private syncing?: Promise<void>;

  /** `nodeIp`: the host's address on the pods' bridge; `lbNodeIp`: the load balancer node's (./loadBalancer.ts). */
  constructor(private readonly host: PodNetworkHost, private readonly dns: ClusterDns, readonly nodeIp: string, readonly lbNodeIp: string) {}

  private stored(kind: string): Obj[] {
    return [...this.host.objects].filter(([k]) => k.startsWith(`${kind}/`)).map(([, o]) => o);
  }

  private clusterIpServices() {
    return this.stored("Service").flatMap((svc) => {
      const vip = this.clusterIps.byService.get(serviceKey(svc));
      const ingress = svc.spec?.type === "LoadBalancer" ? this.loadBalancers.ingress.get(serviceKey(svc)) : undefined;
      const viaNode = ingress && svc.spec?.externalTrafficPolicy !== "Local" ? { ip: this.lbNodeIp, nodePorts: this.loadBalancers.nodePortsOf(svc) } : undefined;
      return vip ? [{ svc, vip, ingress, viaNode }] : [];
    });
  }

  /** Labels of each namespace (the automatic kubernetes.io/metadata.name included). */
  private namespaces(): Map<string, Record<string, string>> {
    const m = new Map<string, Record<string, string>>();
    for (const ns of this.stored("Namespace")) m.set(ns.metadata.name, { ...(ns.metadata.labels ?? {}), "kubernetes.io/metadata.name": ns.metadata.name });
    return m;
  }

  /** The whole iptables-restore text of one pod (its chains rewritten; `first`: the jumps into them added too). */
  private rulesOf(pod: NetnsPod, pods: NetnsPod[], svc: { nat: string[]; filter: string[] }, policies: Obj[], namespaces: Map<string, Record<string, string>>, first: boolean): string {
    const ingress = ingressRules(pod, policies, namespaces, pods, [this.nodeIp, this.lbNodeIp]);
    return [
      "*nat",
      `:${NAT_CHAIN} - [0:0]`,
      ...(first ? [`-A OUTPUT -j ${NAT_CHAIN}`] : []),
      ...svc.nat,
      "COMMIT",
      "*filter",
      `:${REJECT_CHAIN} - [0:0]`,
      `:${INGRESS_CHAIN} - [0:0]`,
      ...(first ? [`-A OUTPUT -j ${REJECT_CHAIN}`, `-A INPUT -j ${INGRESS_CHAIN}`] : []),
      ...svc.filter,
      ...ingress,
      "COMMIT",
      "",
    ].join("\n");
  }

  /**
   * Publishes the DNS and rewrites the rules of every pod whose rules changed; resolves when they are written.
   * A pod being removed may fail its write (its sandbox is gone): only `strict` pods' failures are thrown.
   */
  async sync(strict?: NetnsPod): Promise<void> {
    const pods = this.host.allPods();
    const lbs = lbServices(this.stored("Service"), this.loadBalancers);
    const external = externalRecords(lbs);
    // The pods resolve the external zone too: a cluster's DNS forwards names outside it upstream.
    this.dns.publish([...this.host.podRecords(), ...serviceRecords(this.stored("Service"), this.clusterIps.byService, pods), ...external]);
    const node = this.lbNode;
    const lbWrite = node ? this.writeNode(node, nodeRules(lbs, pods, node.ip, node.outsideIf, false)) : Promise.resolve();
    node?.outside.publish(external);
    // The same for every pod: computed once per sync.
    const svc = serviceRules(this.clusterIpServices(), pods);
    const policies = this.stored("NetworkPolicy");
    const namespaces = this.namespaces();
    const writes: Promise<void>[] = [];
    for (const pod of pods) {
      if (!pod.sandboxPid || pod.deleting || pod.phase === "Succeeded" || pod.phase === "Failed") continue;
      const body = this.rulesOf(pod, pods, svc, policies, namespaces, false);
      if (this.applied.get(pod.sandboxPid) === body) continue;
      const first = !this.applied.has(pod.sandboxPid);
      this.applied.set(pod.sandboxPid, body);
      const text = first ? this.rulesOf(pod, pods, svc, policies, namespaces, true) : body;
      const pid = pod.sandboxPid;
      const w = (this.writing.get(pid) ?? Promise.resolve()).then(() => restoreIn(pid, text)).then(() => this.route(pid)).catch((e: Error) => {
        this.applied.delete(pid);
        if (pod === strict) throw e;
        if (!pod.deleting) this.host.log(`pod ${pod.name}: network rules not written: ${e.message}`);
      });
      this.writing.set(pid, w.catch(() => undefined));
      writes.push(w);
    }
    // Pods that were up before the load balancer node: their route to the outside.
    if (node) {
      for (const pod of pods) {
        const pid = pod.sandboxPid;
        if (!pid || pod.deleting || this.routed.has(pid) || !this.applied.has(pid)) continue;
        const w = (this.writing.get(pid) ?? Promise.resolve()).then(() => this.route(pid)).catch((e: Error) => {
          if (pod === strict) throw e;
          if (!pod.deleting) this.host.log(`pod ${pod.name}: no route to the outside: ${e.message}`);
        });
        this.writing.set(pid, w.catch(() => undefined));
        writes.push(w);
      }
    }
    await Promise.all([...writes, lbWrite]);
  }

  /** The pod's route to the outside network through the load balancer node (once per sandbox). */
  private route(pid: number): void {
    if (!this.lbNode || this.routed.has(pid)) return;
    this.lbNode.routeFrom(pid);
    this.routed.add(pid);
  }

  /** Writes the load balancer node's rules when they changed (its first write adds the jumps and FORWARD's DROP). */
  private async writeNode(node: LoadBalancerNode, body: string): Promise<void> {
    if (this.lbApplied === body) return;
    const first = this.lbApplied === undefined;
    this.lbApplied = body;
    const lbs = lbServices(this.stored("Service"), this.loadBalancers);
    try {
      await restoreIn(node.pid, first ? nodeRules(lbs, this.host.allPods(), node.ip, node.outsideIf, true) : body);
    } catch (e) {
      if (first) this.lbApplied = undefined;
      else this.lbApplied = "";
      throw new Error(`load balancer node: rules not written: ${(e as Error).message}`);
    }
  }

  /** The load balancer node, started with the first LoadBalancer Service (and its outside client with it). */
  async loadBalancerNode(): Promise<LoadBalancerNode> {
    this.lbStarting ??= this.host.startLoadBalancerNode().then((n) => (this.lbNode = n));
    return this.lbStarting;
  }

  /** The client outside the cluster, once a LoadBalancer Service exists. */
  get outside(): OutsideClient | undefined {
    return this.lbNode?.outside;
  }

  /** A Service deleted: its virtual IP and load balancer go, and with the next sync its rules and names. */
  removeService(key: string): Promise<void> {
    this.clusterIps.release(key);
    this.loadBalancers.release(key);
    return this.sync();
  }

  /** Keeps everything in step with readiness (endpoints) every 200 ms, as the endpoints controller and kube-proxy do. */
  start(): void {
    this.timer ??= setInterval(() => {
      this.syncing ??= this.sync().catch((e: Error) => this.host.log(`pods network: ${e.message}`)).finally(() => (this.syncing = undefined));
    }, 200);
    this.timer.unref();
  }

  /** A sandbox is up: its rules are written, and every other pod's that names its IP, before its containers start. */
  podUp(pod: NetnsPod): Promise<void> {
    return this.sync(pod);
  }

  /** A pod is gone: its rules die with its namespace. */
  podGone(pid: number): void {
    this.applied.delete(pid);
    this.routed.delete(pid);
    this.writing.delete(pid);
  }

  /** The virtual IP of a new Service (none for a headless one). */
  assignClusterIp(svc: Obj): string | undefined {
    return svc.spec?.clusterIP === "None" ? undefined : this.clusterIps.allocate(serviceKey(svc));
  }

  /** Host access to a Service port (as `kubectl port-forward service/…`, but an endpoint per connection). */
  async forward(namespace: string, name: string, port: number): Promise<Forward> {
    const svc = this.host.objects.get(`Service/${namespace}/${name}`);
    if (!svc) throw new Error(`pods runner: no Service ${namespace}/${name}`);
    if (!(svc.spec?.ports ?? []).some((p: Obj) => p.port === port)) throw new Error(`pods runner: Service ${namespace}/${name} has no port ${port}`);
    const f = await forward(() => endpointsOf(this.host.objects.get(`Service/${namespace}/${name}`) ?? svc, port, this.host.allPods()));
    this.forwards.push(f);
    return f;
  }

  /** Ends the syncs and forwards and removes the load balancer node and outside client; returns what they left. */
  async stop(docker: Parameters<LoadBalancerNode["stop"]>[0]): Promise<string[]> {
    clearInterval(this.timer);
    await this.syncing;
    await Promise.allSettled(this.forwards.map((f) => f.close()));
    await Promise.allSettled([...this.writing.values()]);
    const node = await this.lbStarting?.catch(() => undefined);
    return node ? node.stop(docker) : [];
  }
}
