// The Deployment controller of the pods runner (Deployment and ReplicaSet in one): `replicas` pods of the current
// template kept running (their containers restart as any restartPolicy Always pod's do, ./pod.ts; a pod that is gone
// or Failed is replaced), named <deployment>-<pod-template-hash>-<suffix>; create awaited until every pod is Ready
// and a template change rolled out as RollingUpdate (maxSurge/maxUnavailable 25%, Kubernetes' default) or Recreate,
// awaited until the new pods are all Ready, as pulumi-kubernetes awaits a Deployment. No Service names these pods in
// the runner's DNS, and they take Docker's dynamic addresses (as Job pods do).
import { createHash, randomInt } from "node:crypto";
import { join } from "node:path";
import { sleep } from "../../smoke/time";
import { durationNs } from "../docker/applier";
import { Unemulated } from "../refuse";
import { Pod, type PodEnv } from "./pod";
import { checkPodSpec, refuse, selects, type Obj } from "./spec";

/** What the controller uses of the runner. */
export interface DeploymentHost {
  readonly env: PodEnv;
  /** Pods' own files live in <dir>/pods. */
  readonly dir: string;
  readonly objects: Map<string, Obj>;
  mark(kind: "pod", name: string, what: string): void;
}

interface DeploymentState {
  obj: Obj;
  hash: string;
  /** A rollout is replacing the pods: the control loop leaves this Deployment to it. */
  rolling: boolean;
}

interface DeploymentPod {
  pod: Pod;
  deployment: string;
  hash: string;
}

const fail = (where: string, msg: string): never => {
  throw new Unemulated(`pods runner: ${where}${msg}`);
};

/** The only rolling-update bounds implemented: Kubernetes' defaults. */
const DEFAULT_BOUND = "25%";

/** A customTimeouts value ("10m") in ms; 10 minutes without one, as pulumi-kubernetes' Deployment await. */
const awaitMs = (t: string | undefined) => (t ? durationNs(t)! / 1e6 : 600_000);

/** What the runner implements of a Deployment's spec; everything else is refused by name. */
export function checkDeployment(d: Obj): void {
  const name = d.metadata?.name;
  const where = `Deployment ${name}.spec`;
  const spec = d.spec ?? {};
  refuse(where, spec, ["replicas", "selector", "template", "strategy"]);
  const replicas = spec.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 0) fail(where, `.replicas ${spec.replicas}: a non-negative integer`);
  const st = spec.strategy;
  if (st) {
    refuse(`${where}.strategy`, st, ["type", "rollingUpdate"]);
    const type = st.type ?? "RollingUpdate";
    if (type !== "RollingUpdate" && type !== "Recreate") fail(where, `.strategy.type ${st.type}: RollingUpdate or Recreate`);
    if (type === "Recreate" && st.rollingUpdate) fail(where, ".strategy.rollingUpdate: not allowed with Recreate (the API server refuses it)");
    refuse(`${where}.strategy.rollingUpdate`, st.rollingUpdate, ["maxSurge", "maxUnavailable"]);
    for (const k of ["maxSurge", "maxUnavailable"]) {
      const v = st.rollingUpdate?.[k];
      if (v !== undefined && v !== DEFAULT_BOUND) fail(where, `.strategy.rollingUpdate.${k} ${v}: only the default ${DEFAULT_BOUND} is implemented`);
    }
  }
  refuse(`${where}.selector`, spec.selector, ["matchLabels"]);
  refuse(`${where}.template`, spec.template, ["metadata", "spec"]);
  refuse(`${where}.template.metadata`, spec.template?.metadata, ["labels", "annotations"]);
  const labels = spec.template?.metadata?.labels ?? {};
  if (!selects(spec.selector?.matchLabels, labels)) fail(where, `.selector ${JSON.stringify(spec.selector?.matchLabels ?? {})} does not select the template's labels ${JSON.stringify(labels)}`);
  if (!spec.template?.spec) fail(where, ".template.spec must be set");
  checkPodSpec(spec.template.spec, `Deployment ${name} pod`, "deployment", replicas, labels);
}

// The alphabet Kubernetes' rand.SafeEncodeString uses (no vowels, no look-alikes), for the hash and the suffix.
const SAFE = "bcdfghjklmnpqrstvwxz2456789";
const safe = (bytes: Buffer, n: number) => [...bytes.subarray(0, n)].map((b) => SAFE[b % SAFE.length]).join("");

/** A stable hash of the pod template (the pod-template-hash label). */
export function templateHash(template: Obj): string {
  return safe(createHash("sha256").update(JSON.stringify(template)).digest(), 10);
}

export class DeploymentController {
  private readonly sets = new Map<string, DeploymentState>();
  private readonly owned = new Map<string, DeploymentPod>();
  /** Readiness last put on the timeline, per pod. */
  private readonly lastReady = new Map<Pod, boolean>();
  /** The first pod the controller could not create: every wait fails with it. */
  fatal?: Error;
  private loop?: Promise<void>;
  private stopping = false;

  constructor(private readonly host: DeploymentHost) {}

  async create(d: Obj, timeout: string | undefined): Promise<void> {
    checkDeployment(d);
    const name: string = d.metadata.name;
    this.store(d);
    this.sets.set(name, { obj: d, hash: templateHash(d.spec.template), rolling: false });
    this.loop ??= this.controlLoop();
    await this.waitRolledOut(name, awaitMs(timeout));
  }

  /** A changed template is rolled out (strategy); a change of replicas or selector is refused (not implemented / immutable). */
  async update(d: Obj, timeout: string | undefined): Promise<void> {
    checkDeployment(d);
    const name: string = d.metadata.name;
    const s = this.sets.get(name);
    if (!s) throw new Error(`pods runner: update of Deployment ${name}, which does not exist`);
    for (const f of ["replicas", "selector"]) {
      if (JSON.stringify(s.obj.spec[f]) !== JSON.stringify(d.spec[f])) fail(`Deployment ${name}`, `: an update of spec.${f} is not implemented`);
    }
    const hash = templateHash(d.spec.template);
    s.obj = d;
    this.store(d);
    if (hash === s.hash) return;
    s.hash = hash;
    const ms = awaitMs(timeout);
    s.rolling = true;
    try {
      if ((d.spec.strategy?.type ?? "RollingUpdate") === "Recreate") await this.recreate(name);
      else await this.rollingUpdate(name, ms);
    } finally {
      s.rolling = false;
    }
    await this.waitRolledOut(name, ms);
  }

  /** The Deployment's pods (every template), by name. */
  pods(deployment: string): Pod[] {
    return [...this.owned.values()].filter((p) => p.deployment === deployment).map((p) => p.pod);
  }

  /** Every pod of every Deployment. */
  allPods(): Pod[] {
    return [...this.owned.values()].map((p) => p.pod);
  }

  /** Ends the control loop and returns every pod it made (the caller removes them). */
  async stop(): Promise<Pod[]> {
    this.stopping = true;
    await this.loop?.catch(() => undefined);
    return [...this.owned.values()].map((p) => p.pod);
  }

  private store(d: Obj): void {
    this.host.objects.set(`Deployment/${d.metadata.namespace ?? ""}/${d.metadata.name}`, d);
  }

  private replicas(name: string): number {
    return this.sets.get(name)!.obj.spec.replicas ?? 1;
  }

  private current(name: string): DeploymentPod[] {
    const s = this.sets.get(name)!;
    return [...this.owned.values()].filter((p) => p.deployment === name && p.hash === s.hash);
  }

  private old(name: string): DeploymentPod[] {
    const s = this.sets.get(name)!;
    return [...this.owned.values()].filter((p) => p.deployment === name && p.hash !== s.hash);
  }

  /** Every pod of the current template Ready, as many as replicas, and no other pod left. */
  private async waitRolledOut(name: string, timeoutMs: number): Promise<void> {
    const t0 = Date.now();
    while (Date.now() - t0 < timeoutMs) {
      if (this.fatal) throw this.fatal;
      const cur = this.current(name);
      if (this.old(name).length === 0 && cur.length === this.replicas(name) && cur.every((p) => p.pod.ready)) return;
      await sleep(200);
    }
    const state = this.pods(name).map((p) => `${p.name}: ${p.phase}${p.ready ? " ready" : " not ready"}`);
    throw new Error(`pods runner: Deployment ${name} not rolled out within ${timeoutMs} ms:\n${state.join("\n") || "(no pods)"}`);
  }

  /** Recreate: every old pod deleted (gracefully) before the control loop makes the new ones. */
  private async recreate(name: string): Promise<void> {
    await Promise.all(this.old(name).map((p) => this.remove(p.pod, "Recreate")));
  }

  /**
   * RollingUpdate with Kubernetes' default bounds: at most replicas + ceil(25%) pods, at least replicas - floor(25%)
   * Ready (one replica: the new pod is Ready before the old one goes). Old pods that are not Ready go first.
   */
  private async rollingUpdate(name: string, timeoutMs: number): Promise<void> {
    const replicas = this.replicas(name);
    const surge = Math.ceil(replicas / 4);
    const minReady = replicas - Math.floor(replicas / 4);
    const t0 = Date.now();
    while (this.old(name).length > 0) {
      if (this.fatal) throw this.fatal;
      if (Date.now() - t0 > timeoutMs) throw new Error(`pods runner: Deployment ${name}: rolling update not done within ${timeoutMs} ms`);
      const s = this.sets.get(name)!;
      const old = this.old(name);
      const cur = this.current(name);
      for (let n = old.length + cur.length, made = cur.length; n < replicas + surge && made < replicas; n++, made++) await this.createPod(s);
      this.markReadiness(name);
      let ready = [...old, ...this.current(name)].filter((p) => p.pod.ready).length;
      for (const p of old.sort((a, b) => Number(a.pod.ready) - Number(b.pod.ready))) {
        if (p.pod.ready && ready - 1 < minReady) break;
        if (p.pod.ready) ready--;
        await this.remove(p.pod, "rolling update");
      }
      await sleep(200);
    }
  }

  /** Deletes a Deployment's pod (see Pod.delete for the modes); the controller replaces it. Resolves when it is gone. */
  async deletePod(name: string, mode: "graceful" | "force" | "crash"): Promise<void> {
    const p = this.owned.get(name);
    if (!p) throw new Error(`pods runner: no Deployment pod ${name}`);
    await this.remove(p.pod, "delete", mode);
  }

  private async remove(pod: Pod, why: string, mode: "graceful" | "force" | "crash" = "graceful"): Promise<void> {
    this.host.mark("pod", pod.name, `${why}: delete (${mode})`);
    await pod.delete(mode);
    this.owned.delete(pod.name);
    this.lastReady.delete(pod);
    this.host.mark("pod", pod.name, `${why}: gone`);
  }

  /** Records each pod's readiness changes on the timeline; called before any decision on them, so the timeline shows what it saw. */
  private markReadiness(name: string): void {
    for (const { pod, deployment } of this.owned.values()) {
      if (deployment !== name || (this.lastReady.get(pod) ?? false) === pod.ready) continue;
      this.lastReady.set(pod, pod.ready);
      this.host.mark("pod", pod.name, pod.ready ? `Ready (${pod.ip})` : "not Ready");
    }
  }

  private async controlLoop(): Promise<void> {
    while (!this.stopping) {
      for (const [name, s] of this.sets) {
        this.markReadiness(name);
        for (const { pod, deployment } of this.owned.values()) {
          if (deployment === name && pod.phase === "Failed" && !pod.deleting) void this.remove(pod, "Failed");
        }
        if (s.rolling) continue;
        // createPod registers its pod before its first await: the next pass counts it.
        const missing = this.fatal ? 0 : this.replicas(name) - this.current(name).length;
        for (let i = 0; i < missing && !this.stopping; i++) void this.createPod(s);
      }
      await sleep(200);
    }
  }

  private async createPod(s: DeploymentState): Promise<void> {
    const d = s.obj;
    const t = d.spec.template;
    const name = `${d.metadata.name}-${s.hash}-${safe(Buffer.from(Array.from({ length: 5 }, () => randomInt(256))), 5)}`;
    this.host.mark("pod", name, "create");
    const pod = new Pod(this.host.env, {
      name,
      namespace: d.metadata.namespace,
      labels: { ...(t.metadata?.labels ?? {}), "pod-template-hash": s.hash },
      spec: t.spec,
      dir: join(this.host.dir, "pods", `${name}-${Date.now()}`),
    });
    this.owned.set(name, { pod, deployment: d.metadata.name, hash: s.hash });
    try {
      await pod.start();
    } catch (e) {
      // As the StatefulSet controller: a pod the runner cannot create fails the waiting step, with no retry loop.
      this.fatal ??= new Error(`pod ${name} could not be created: ${(e as Error).message}`);
      await pod.delete("force");
      this.owned.delete(name);
    }
  }
}
