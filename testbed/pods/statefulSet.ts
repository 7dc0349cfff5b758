// The StatefulSet controller of the pods runner: Parallel pod management, one claim directory per pod that outlives
// it, a missing pod recreated (unless a scenario holds it back), create awaited until every pod is Ready (as
// pulumi-kubernetes awaits it); a template change rolls the pods highest ordinal first, each replacement Ready before
// the next; a replicas change adds the missing ordinals or deletes the highest ones (gracefully, all at once as
// Parallel management does; their claims stay, whenScaled Retain). Each pod carries the controller's labels
// statefulset.kubernetes.io/pod-name and apps.kubernetes.io/pod-index (a per-pod Service selects by them). Its pods
// are published under the StatefulSet's headless Service (./dns.ts).
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "../../smoke/time";
import type { PodIps } from "./ips";
import { Pod, type PodEnv } from "./pod";
import { Unemulated } from "../refuse";
import { checkPodSpec, refuse, selects, type Obj } from "./spec";

/** What the controller uses of the runner. */
export interface ControllerHost {
  readonly env: PodEnv;
  /** Claims live in <dir>/claims, pods' own files in <dir>/pods. */
  readonly dir: string;
  /** The stored objects (StatefulSets are stored here; the DNS reads Services from here). */
  readonly objects: Map<string, Obj>;
  readonly ips: PodIps;
  mark(kind: "pod", name: string, what: string): void;
  syncNetwork(): void;
}

interface StatefulSetState {
  obj: Obj;
  /** Pods a scenario keeps from being (re)created. */
  held: Set<string>;
  creating: Set<string>;
}

type DeleteMode = "graceful" | "force" | "crash";

export class StatefulSetController {
  readonly pods = new Map<string, Pod>();
  /** The first pod the controller could not create: every wait fails with it. */
  fatal?: Error;
  private readonly sets = new Map<string, StatefulSetState>();
  private readonly lastReady = new Map<Pod, boolean>();
  private loop?: Promise<void>;
  private stopping = false;

  constructor(private readonly host: ControllerHost) {}

  async create(sts: Obj, timeout: string | undefined): Promise<void> {
    const name: string = sts.metadata.name;
    const spec = sts.spec;
    refuse(`StatefulSet ${name}.spec`, spec, [
      "serviceName", "replicas", "podManagementPolicy", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "selector", "template", "volumeClaimTemplates",
    ]);
    checkStatefulSetSpec(name, spec);
    checkServiceTargets(sts, [...this.host.objects].filter(([k]) => k.startsWith(`Service/${sts.metadata.namespace}/`)).map(([, o]) => o));
    this.host.objects.set(`StatefulSet/${sts.metadata.namespace}/${name}`, sts);
    this.sets.set(name, { obj: sts, held: new Set(), creating: new Set() });
    this.loop ??= this.controlLoop();
    await this.waitReady(this.podNames(name), durationMs(timeout) ?? 600_000);
  }

  /**
   * `kubectl apply` of a changed StatefulSet as the controller runs a RollingUpdate (partition 0, maxUnavailable 1):
   * when the pod template changed, the pods are replaced highest ordinal first, each deleted gracefully (preStop) once
   * every pod is Ready, and recreated from the new template; the update is done when the last one is Ready (as
   * pulumi-kubernetes awaits the rollout). A replicas change scales: pods above the new count are deleted gracefully
   * (at once, Parallel) before the roll, new ordinals are created from the new template; done when every pod is
   * Ready. Other spec changes are refused.
   */
  async update(sts: Obj, timeout: string | undefined): Promise<void> {
    const name: string = sts.metadata.name;
    const s = this.sets.get(name);
    if (!s) throw new Error(`pods runner: update of StatefulSet ${name}, which does not exist`);
    const old = s.obj.spec;
    const spec = sts.spec;
    for (const f of ["serviceName", "podManagementPolicy", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "selector"]) {
      if (JSON.stringify(old[f]) !== JSON.stringify(spec[f])) throw new Unemulated(`pods runner: StatefulSet ${name}: an update of spec.${f} is not implemented`);
    }
    checkStatefulSetSpec(name, { ...spec, volumeClaimTemplates: old.volumeClaimTemplates });
    const templateChanged = JSON.stringify(old.template) !== JSON.stringify(spec.template);
    // ignoreChanges keeps the claim templates as they were; the controller keeps the claims either way.
    s.obj = { ...sts, spec: { ...spec, volumeClaimTemplates: old.volumeClaimTemplates } };
    this.host.objects.set(`StatefulSet/${sts.metadata.namespace}/${name}`, s.obj);
    const ms = durationMs(timeout) ?? 600_000;
    const t0 = Date.now();
    const names = this.podNames(name);
    const removed = Array.from({ length: Math.max(0, old.replicas - spec.replicas) }, (_, i) => `${name}-${spec.replicas + i}`);
    if (removed.length > 0) {
      for (const pod of removed) this.host.mark("pod", pod, `scale down to ${spec.replicas}: delete (graceful)`);
      await Promise.all(removed.map((pod) => this.deletePod(pod, "graceful")));
    }
    // Scaled up: the control loop creates the new ordinals from the new template.
    const added = names.slice(old.replicas);
    if (!templateChanged) {
      await this.waitReady(names, ms);
      return;
    }
    for (const pod of [...names].filter((n) => !added.includes(n)).reverse()) {
      await this.waitReady(names, ms - (Date.now() - t0));
      this.host.mark("pod", pod, "rolling update: delete (graceful)");
      const preStop = await this.replace(pod);
      this.host.mark("pod", pod, "rolling update: deleted");
      if (preStop) this.host.mark("pod", pod, preStop);
      await this.waitReady([pod], ms - (Date.now() - t0));
      this.host.mark("pod", pod, "rolling update: replacement Ready");
    }
    await this.waitReady(names, ms - (Date.now() - t0));
  }

  /** `kubectl rollout restart`: highest ordinal first, each pod deleted gracefully and its replacement Ready before the next. */
  async rolloutRestart(sts: string, timeoutPerPodMs: number): Promise<{ pod: string; ms: number; preStop?: string }[]> {
    const out: { pod: string; ms: number; preStop?: string }[] = [];
    const names = this.podNames(sts);
    for (const pod of [...names].reverse()) {
      const t = Date.now();
      await this.waitReady(names, timeoutPerPodMs);
      const preStop = await this.replace(pod);
      await this.waitReady([pod], timeoutPerPodMs);
      out.push({ pod, ms: Date.now() - t, preStop });
    }
    return out;
  }

  /** Deletes the pod gracefully for the controller to recreate; returns what its preStop hook reported. */
  private async replace(pod: string): Promise<string | undefined> {
    const old = this.pods.get(pod);
    await this.deletePod(pod, "graceful");
    return old?.events.find((e) => e.what.startsWith("preStop"))?.what;
  }

  podNames(sts: string): string[] {
    const s = this.sets.get(sts);
    if (!s) throw new Error(`pods runner: no StatefulSet ${sts}`);
    return Array.from({ length: s.obj.spec.replicas }, (_, i) => `${sts}-${i}`);
  }

  /** Every pod of a StatefulSet under its headless Service (ready ones only without publishNotReadyAddresses). */
  dnsRecords(): [string, string][] {
    const out: [string, string][] = [];
    for (const s of this.sets.values()) {
      const ns = s.obj.metadata.namespace;
      const svc = this.host.objects.get(`Service/${ns}/${s.obj.spec.serviceName}`);
      if (!svc || svc.spec?.clusterIP !== "None") continue;
      const all = svc.spec.publishNotReadyAddresses === true;
      for (const pod of this.podNames(s.obj.metadata.name)) {
        const p = this.pods.get(pod);
        if (p?.ip && (all || p.ready)) out.push([p.ip, `${pod}.${svc.metadata.name}.${ns}.svc.cluster.local`]);
      }
    }
    return out;
  }

  /** Keeps the StatefulSet from recreating `pod` until release() (a late pod). */
  hold(pod: string): void {
    for (const s of this.sets.values()) if (pod.startsWith(`${s.obj.metadata.name}-`)) s.held.add(pod);
  }

  release(pod: string): void {
    for (const s of this.sets.values()) s.held.delete(pod);
  }

  /** Deletes a pod (see Pod.delete for the modes); recreated unless held. Resolves when it is gone. */
  async deletePod(name: string, mode: DeleteMode): Promise<void> {
    const p = this.pods.get(name);
    if (!p) return;
    this.host.mark("pod", name, `delete (${mode})`);
    // Forced or crashed: the API object is gone at once and the containers are killed; graceful runs preStop first.
    await p.delete(mode);
    if (this.pods.get(name) === p) this.pods.delete(name);
    this.lastReady.delete(p);
    this.host.mark("pod", name, `gone (${mode})`);
    this.host.syncNetwork();
  }

  async waitReady(pods: string[], timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      if (this.fatal) throw this.fatal;
      if (pods.every((n) => this.pods.get(n)?.ready)) return Date.now() - t0;
      await sleep(200);
    }
    const state = pods.map((n) => {
      const p = this.pods.get(n);
      return `${n}: ${p ? `${p.phase}${p.ready ? " ready" : ` not ready (${p.containers.map((c) => `${c.name}: ${c.lastProbe ?? (c.started ? "started" : "starting")}`).join("; ")})`}` : "absent"}`;
    });
    throw new Error(`pods not ready within ${timeoutMs} ms:\n${state.join("\n")}`);
  }

  /** Ends the control loop (no pod is recreated after this); the pods stay for the caller to remove. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.loop?.catch(() => undefined);
  }

  private async controlLoop(): Promise<void> {
    while (!this.stopping) {
      for (const [name, s] of this.sets) {
        for (const pod of this.podNames(name)) {
          const p = this.pods.get(pod);
          if (p && (this.lastReady.get(p) ?? false) !== p.ready) {
            this.lastReady.set(p, p.ready);
            this.host.mark("pod", pod, p.ready ? `Ready (${p.ip})` : "not Ready");
          }
          if (p && p.phase === "Failed" && !p.deleting) void this.deletePod(pod, "graceful");
          if (p || s.held.has(pod) || s.creating.has(pod) || this.stopping) continue;
          s.creating.add(pod);
          void this.createPod(s, pod).finally(() => s.creating.delete(pod));
        }
      }
      this.host.syncNetwork();
      await sleep(200);
    }
  }

  private async createPod(s: StatefulSetState, name: string): Promise<void> {
    const t = s.obj.spec.template;
    this.host.mark("pod", name, "create");
    const pod = new Pod(this.host.env, {
      name,
      namespace: s.obj.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}), "statefulset.kubernetes.io/pod-name": name, "apps.kubernetes.io/pod-index": name.slice(name.lastIndexOf("-") + 1) },
      spec: t.spec,
      ip: this.host.ips.allocate(name, [...this.pods.values()].map((p) => p.ip)),
      claims: this.claimDirs(s, name),
      dir: join(this.host.dir, "pods", `${name}-${Date.now()}`),
    });
    this.pods.set(name, pod);
    try {
      await pod.start();
    } catch (e) {
      // Deleted while it started (an eviction of a Pending pod, as Kubernetes allows): gone, and recreated as any other.
      if (pod.deleting) {
        if (this.pods.get(name) === pod) this.pods.delete(name);
        this.host.mark("pod", name, "deleted while starting");
        return;
      }
      // A pod the runner cannot create (refused field, Docker error) fails the waiting step at once, and the
      // controller does not retry it in a loop.
      this.host.env.log(`pod ${name} failed to start: ${(e as Error).message}`);
      this.fatal ??= new Error(`pod ${name} could not be created: ${(e as Error).message}`);
      s.held.add(name);
      await pod.delete("force");
      if (this.pods.get(name) === pod) this.pods.delete(name);
    }
    this.host.syncNetwork();
  }

  private claimDirs(s: StatefulSetState, pod: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const t of s.obj.spec.volumeClaimTemplates ?? []) {
      const d = join(this.host.dir, "claims", `${t.metadata.name}-${pod}`);
      if (!existsSync(d)) mkdirSync(d, { recursive: true, mode: 0o755 });
      out[t.metadata.name] = d;
    }
    return out;
  }
}

/**
 * What the controller implements of a StatefulSet's spec. The update is one pod at a time (maxUnavailable 1,
 * partition 0); claims are never deleted (the runner never deletes a StatefulSet, a scale-down leaves the claims of
 * the removed ordinals, and all live until the runner's teardown): persistentVolumeClaimRetentionPolicy Retain is
 * what it does, Delete would be ignored and is refused.
 */
export function checkStatefulSetSpec(name: string, spec: Obj): void {
  const where = `StatefulSet ${name}.spec`;
  const fail = (msg: string) => {
    throw new Unemulated(`pods runner: ${where}${msg}`);
  };
  if (spec.podManagementPolicy !== "Parallel") fail(`.podManagementPolicy ${spec.podManagementPolicy}: only Parallel is implemented`);
  if (spec.updateStrategy) {
    refuse(`${where}.updateStrategy`, spec.updateStrategy, ["type", "rollingUpdate"]);
    refuse(`${where}.updateStrategy.rollingUpdate`, spec.updateStrategy.rollingUpdate, ["partition", "maxUnavailable"]);
    const ru = spec.updateStrategy.rollingUpdate ?? {};
    if (spec.updateStrategy.type !== "RollingUpdate") fail(`.updateStrategy.type ${spec.updateStrategy.type}: only RollingUpdate is implemented`);
    if ((ru.partition ?? 0) !== 0) fail(`.updateStrategy.rollingUpdate.partition ${ru.partition}: only 0 is implemented`);
    if ((ru.maxUnavailable ?? 1) !== 1) fail(`.updateStrategy.rollingUpdate.maxUnavailable ${ru.maxUnavailable}: only 1 is implemented (the update replaces one pod at a time)`);
  }
  const retention = spec.persistentVolumeClaimRetentionPolicy;
  refuse(`${where}.persistentVolumeClaimRetentionPolicy`, retention, ["whenDeleted", "whenScaled"]);
  for (const k of ["whenDeleted", "whenScaled"]) {
    if (retention?.[k] !== undefined && retention[k] !== "Retain") fail(`.persistentVolumeClaimRetentionPolicy.${k} ${retention[k]}: only Retain is implemented (the runner never deletes a claim)`);
  }
  refuse(`${where}.selector`, spec.selector, ["matchLabels"]);
  refuse(`${where}.template`, spec.template, ["metadata", "spec"]);
  refuse(`${where}.template.metadata`, spec.template.metadata, ["labels", "annotations"]);
  const labels = spec.template.metadata?.labels ?? {};
  if (!selects(spec.selector?.matchLabels, labels)) fail(`.selector ${JSON.stringify(spec.selector?.matchLabels ?? {})} does not select the template's labels ${JSON.stringify(labels)}`);
  const claims: string[] = [];
  for (const t of spec.volumeClaimTemplates ?? []) {
    refuse(`${where} claim template ${t.metadata?.name}.metadata`, t.metadata, ["name", "labels", "annotations"]);
    refuse(`${where} claim template ${t.metadata?.name}.spec`, t.spec, ["accessModes", "storageClassName", "resources"]);
    if (claims.includes(t.metadata.name)) fail(`: claim template '${t.metadata.name}' declared twice`);
    claims.push(t.metadata.name);
  }
  checkPodSpec(spec.template.spec, `StatefulSet ${name} pod`, "statefulset", spec.replicas, labels, claims);
}

/**
 * A Service that selects these pods and names a targetPort must find that name among the pods' container ports:
 * otherwise it has no endpoint on them (kube-proxy and the DNS the runner writes would both disagree with a cluster).
 */
export function checkServiceTargets(sts: Obj, services: Obj[]): void {
  const labels = sts.spec.template.metadata?.labels ?? {};
  const ports = new Set<string>((sts.spec.template.spec.containers ?? []).flatMap((c: Obj) => (c.ports ?? []).map((p: Obj) => p.name)));
  for (const svc of services) {
    if (!selects(svc.spec?.selector, labels)) continue;
    for (const p of svc.spec?.ports ?? []) {
      if (typeof p.targetPort === "string" && !ports.has(p.targetPort)) {
        throw new Error(`pods runner: Service ${svc.metadata?.name} port ${p.name}: targetPort '${p.targetPort}' is no container port of StatefulSet ${sts.metadata.name}'s pods (named: ${[...ports].join(", ")})`);
      }
    }
  }
}

/** Go duration ("12m", "330s") in ms. */
function durationMs(d: string | undefined): number | undefined {
  if (!d) return undefined;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * unit[m[2]];
  return total || undefined;
}
