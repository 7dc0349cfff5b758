// The pods' network as the cluster sees it: the DNS (./dns.ts: StatefulSet pods under their headless Service, every
// Service's own name), kube-proxy's rules (./serviceProxy.ts) and NetworkPolicy ingress (./networkPolicy.ts), kept in
// step with the pods and the stored objects. sync() recomputes it all and rewrites the iptables of each pod whose rules
// changed, in its own network namespace (nsenter into the sandbox's, iptables-restore of the runner's chains only).
// A new pod gets its rules (and the pods it may reach learn its IP) before its containers start: podUp().
import { spawn } from "node:child_process";
import { readlinkSync } from "node:fs";
import type { ClusterDns } from "./dns";
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
  /** The last rules written (or being written) per pod, by sandbox pid. */
  private readonly applied = new Map<number, string>();
  private readonly writing = new Map<number, Promise<void>>();
  private readonly forwards: Forward[] = [];
  private timer?: NodeJS.Timeout;
  private syncing?: Promise<void>;

  /** `nodeIp`: the host's address on the pods' bridge. */
  constructor(private readonly host: PodNetworkHost, private readonly dns: ClusterDns, readonly nodeIp: string) {}

  private stored(kind: string): Obj[] {
    return [...this.host.objects].filter(([k]) => k.startsWith(`${kind}/`)).map(([, o]) => o);
  }

  private clusterIpServices() {
    return this.stored("Service").flatMap((svc) => {
      const vip = this.clusterIps.byService.get(serviceKey(svc));
      return vip ? [{ svc, vip }] : [];
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
    const ingress = ingressRules(pod, policies, namespaces, pods, this.nodeIp);
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
    this.dns.publish([...this.host.podRecords(), ...serviceRecords(this.stored("Service"), this.clusterIps.byService, pods)]);
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
      const w = (this.writing.get(pid) ?? Promise.resolve()).then(() => restoreIn(pid, text)).catch((e: Error) => {
        this.applied.delete(pid);
        if (pod === strict) throw e;
        if (!pod.deleting) this.host.log(`pod ${pod.name}: network rules not written: ${e.message}`);
      });
      this.writing.set(pid, w.catch(() => undefined));
      writes.push(w);
    }
    await Promise.all(writes);
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

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.syncing;
    await Promise.allSettled(this.forwards.map((f) => f.close()));
    await Promise.allSettled([...this.writing.values()]);
  }
}
