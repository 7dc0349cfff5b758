// "Pods as containers": the prod program's Kubernetes objects run on a private Docker engine with kubelet and
// controller semantics, since no API server can run here. The program runs as `pulumi up` runs it (test/engine:
// Pulumi's own runtime); each step the engine hands over is applied here:
//   ConfigMap, Secret        kept (their data feeds the pods' volumes and env)
//   Service (headless)       the cluster DNS: <pod>.<service>.<ns>.svc.cluster.local in an /etc/hosts the runner
//                            writes (every pod, or only ready ones without publishNotReadyAddresses); names not in it
//                            do not resolve (resolv.conf points at nothing), so a pod can be made absent from DNS
//   StatefulSet              the controller: Parallel pod management, one claim directory per pod that outlives it,
//                            a missing pod recreated (unless a scenario holds it back), create awaited until every pod
//                            is Ready (as pulumi-kubernetes awaits it); rolloutRestart() = highest ordinal first, each
//                            replacement Ready before the next
//   Job                      ./job.ts: awaited until Complete; failure (backoffLimit, activeDeadlineSeconds) fails the step
//   Namespace, ServiceAccount, PodDisruptionBudget, NetworkPolicy, non-headless Service, the provider, RandomPassword:
//                            recorded (a generated password is real); nothing enforces NetworkPolicy or PDB here
//   PrometheusRule/ServiceMonitor (CustomResource): recorded, not run (no Prometheus Operator)
// Pod IPs come from a /24 of 172.30.0.0/16 of the runner's own network; a scenario chooses the next IP of a pod.
import { spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runProgram, type ConfigInput, type EngineState, type ProviderStep, type RunResult } from "../engine/engine";
import { unwrapSecrets } from "../engine/values";
import { startDockerd, mountsUnder, type PrivateDockerd } from "../docker/daemon";
import { ensureNodeImage, ensureStandInImages } from "../docker/images";
import { applyTls, TLS_TYPES } from "../tlsProvider";
import { runJob, type JobResult } from "./job";
import { Pod, type PodEnv } from "./pod";
import { checkPodSpec, refuse, type Obj } from "./spec";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A /24 of 172.30.0.0/16 that no route on this host uses. */
export function freePodSubnet(avoid: string[] = []): string {
  const routes = spawnSync("ip", ["-4", "route", "show"], { encoding: "utf8" }).stdout ?? "";
  for (let x = 10 + Math.floor(Math.random() * 200); x < 250; x++) {
    const s = `172.30.${x}.0/24`;
    if (!routes.includes(`172.30.${x}.`) && !avoid.includes(s)) return s;
  }
  throw new Error("pods runner: no free /24 in 172.30.0.0/16");
}

interface StatefulSetState {
  obj: Obj;
  /** Pods a scenario keeps from being (re)created. */
  held: Set<string>;
  creating: Set<string>;
}

export interface RunnerOptions {
  log?: (line: string) => void;
  /** Default: a free /24 of 172.30.0.0/16. */
  subnet?: string;
  /** Docker CgroupParent of every container (CpuLedger.cgroupParent): their CPU is counted there. */
  cgroupParent?: string;
}

export interface UpResult {
  run: RunResult;
  jobs: JobResult[];
  /** Objects recorded but not run (kind/name), e.g. the Prometheus Operator's. */
  notRun: string[];
  /** ms from the start until each step finished, by resource name. */
  stepMs: Record<string, number>;
  /**
   * The engine state a next `up` starts from (UpArgs.priorState): what the runner applied, what the program declared
   * without a step of its own (components), and every dynamic-provider resource (scale plan, password history: they
   * live only in the engine's state, and a rotation's `up` needs the password history to know what it retires).
   */
  state: EngineState;
}

export interface UpArgs {
  stack: string;
  config?: Record<string, ConfigInput>;
  timeoutMs?: number;
  root?: string;
  /** The state of a previous up (UpResult.state): this up diffs against it (a second `pulumi up`). */
  priorState?: EngineState;
}

/** What the runner did when (ms since the epoch): steps, Job runs, pod deletions, creations and readiness. */
export interface TimelineEvent {
  at: number;
  kind: "step" | "job" | "pod";
  /** Resource, Job or pod name. */
  name: string;
  what: string;
}

/**
 * `pulumi up` of the program with every step applied by the runner `runner` resolves to. The program starts at once:
 * its start in the engine (~10 s of CPU: ts-node, the SDKs, the dynamic-provider host) overlaps with the daemon's start
 * and the image imports when `runner` is still starting (PodsRunner.start() not awaited); each step waits for it.
 */
export async function upOn(runner: Promise<PodsRunner>, args: UpArgs): Promise<UpResult> {
  const t0 = Date.now();
  const stepMs: Record<string, number> = {};
  const applied = new Set<string>();
  const run = await runProgram({
    stack: args.stack,
    mode: "up",
    config: args.config,
    root: args.root,
    priorState: args.priorState,
    timeoutMs: args.timeoutMs ?? 900_000,
    provider: async (step) => {
      const r = await runner;
      r.mark("step", step.name, `${step.op} ${step.type.replace(/^kubernetes:/, "")} start`);
      try {
        const out = await r.provider(step);
        applied.add(step.urn);
        r.mark("step", step.name, `${step.op} done`);
        return out;
      } catch (e) {
        r.mark("step", step.name, `${step.op} failed`);
        throw e;
      } finally {
        stepMs[step.name] = Date.now() - t0;
      }
    },
  });
  const r = await runner;
  // As local/docker/stack.ts keeps it: a custom resource whose step failed (or never ran) keeps no entry; unchanged
  // ones ("same") keep theirs; dynamic-provider resources are applied by the engine itself and always kept.
  const byUrn = new Map(run.resources.map((x) => [x.urn, x]));
  const state: EngineState = {
    resources: run.state.resources.filter((e) => {
      const rec = byUrn.get(e.urn);
      return !rec || !rec.custom || rec.op === "same" || applied.has(e.urn) || e.type.startsWith("pulumi-nodejs:dynamic");
    }),
  };
  return { run, jobs: r.jobs, notRun: r.notRun, stepMs, state };
}

export class PodsRunner {
  readonly objects = new Map<string, Obj>();
  readonly pods = new Map<string, Pod>();
  readonly jobs: JobResult[] = [];
  readonly notRun: string[] = [];
  /** Steps, Jobs, pod deletions/creations and readiness changes, in order (a scenario tells what a client error met). */
  readonly timeline: TimelineEvent[] = [];
  private readonly sets = new Map<string, StatefulSetState>();
  private readonly jobPods = new Set<Pod>();
  /** IP a pod gets on its next creation (scenarios), else the next unused one. */
  private readonly nextIps = new Map<string, string>();
  private ipCursor = 10;
  private controller?: Promise<void>;
  private stopping = false;
  readonly env: PodEnv;
  private lastHosts = "";
  /** The first pod the runner could not create: every wait fails with it. */
  fatal?: Error;

  private constructor(
    readonly dockerd: PrivateDockerd,
    readonly dir: string,
    readonly network: string,
    readonly subnet: string,
    private readonly images: Record<string, string>,
    private readonly log: (l: string) => void,
    cgroupParent?: string,
  ) {
    const hostsFile = join(dir, "hosts");
    const resolvFile = join(dir, "resolv.conf");
    writeFileSync(hostsFile, "127.0.0.1 localhost\n");
    // Nothing listens on the pod's own loopback port 53: a name not in /etc/hosts fails at once and no query leaves.
    writeFileSync(resolvFile, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
    chmodSync(hostsFile, 0o644);
    chmodSync(resolvFile, 0o644);
    this.env = {
      docker: dockerd.docker,
      network,
      hostsFile,
      resolvFile,
      image: (ref) => this.image(ref),
      configMap: (ns, name) => this.data("ConfigMap", ns, name),
      secret: (ns, name) => this.data("Secret", ns, name),
      hasSecret: (ns, name) => this.objects.has(`Secret/${ns}/${name}`),
      log,
      cgroupParent,
    };
  }

  /** Starts a private dockerd, imports the stand-in images (Redis, exporter, Node) and creates the pods network. */
  static async start(opts: RunnerOptions = {}): Promise<PodsRunner> {
    const log = opts.log ?? (() => undefined);
    const dockerd = await startDockerd({ log });
    let dir = "";
    try {
      // Both imports at once: mostly disk I/O in the daemon, so they overlap with each other (and, through startUp(),
      // with the program's start in the engine).
      const [standIn, node] = await Promise.all([ensureStandInImages(dockerd.docker, { log }), ensureNodeImage(dockerd.docker, { log })]);
      dir = mkdtempSync(join(tmpdir(), "rc-pods-"));
      chmodSync(dir, 0o755);
      // Holds the pods' data and the password files: removed also when the process ends without stop() (a signal,
      // a test's time bound). The daemon's own exit hook, registered first, has killed the containers by then.
      const created = dir;
      process.on("exit", () => rmSync(created, { recursive: true, force: true }));
      const subnet = opts.subnet ?? freePodSubnet();
      const prefix = subnet.replace(/\.0\/24$/, "");
      const network = `pods-${randomBytes(3).toString("hex")}`;
      // Fixed pod IPs from .10-.120; Job pods get Docker's dynamic addresses from .128/25.
      await dockerd.docker.createNetwork({
        Name: network,
        Driver: "bridge",
        IPAM: { Config: [{ Subnet: subnet, Gateway: `${prefix}.1`, IPRange: `${prefix}.128/25` }] },
        Options: { "com.docker.network.bridge.enable_ip_masquerade": "false" },
      } as any);
      return new PodsRunner(dockerd, dir, network, subnet, { redis: standIn.redis, exporter: standIn.exporter, node: node.image }, log, opts.cgroupParent);
    } catch (e) {
      await dockerd.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  /** The stand-in for an image reference of the program (no registry: redis, oliver006/redis_exporter, node). */
  image(ref: string): string {
    if (Object.values(this.images).includes(ref)) return ref;
    const repo = ref.replace(/[:@].*$/, "");
    const m: Record<string, string> = { redis: this.images.redis, "oliver006/redis_exporter": this.images.exporter, node: this.images.node };
    if (!(repo in m)) throw new Error(`pods runner: no local stand-in for image ${ref} (known: redis, oliver006/redis_exporter, node)`);
    return m[repo];
  }

  private data(kind: "ConfigMap" | "Secret", ns: string, name: string): Record<string, string> {
    const o = this.objects.get(`${kind}/${ns}/${name}`);
    if (!o) throw new Error(`pods runner: ${kind} ${ns}/${name} does not exist`);
    if (kind === "Secret") {
      const out: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.data ?? {})) out[k] = Buffer.from(String(v), "base64").toString();
      return { ...out, ...(o.stringData ?? {}) };
    }
    return o.data ?? {};
  }

  get prefix(): string {
    return this.subnet.replace(/\.0\/24$/, "");
  }

  /** The pod's next creation uses this IP (a scenario reusing or swapping addresses). */
  setNextIp(pod: string, ip: string): void {
    this.nextIps.set(pod, ip);
  }

  private allocateIp(pod: string): string {
    const wanted = this.nextIps.get(pod);
    this.nextIps.delete(pod);
    if (wanted) return wanted;
    const used = new Set([...this.pods.values()].map((p) => p.ip));
    const reserved = new Set(this.nextIps.values());
    for (let n = 0; n < 111; n++) {
      const ip = `${this.prefix}.${this.ipCursor}`;
      this.ipCursor = this.ipCursor >= 120 ? 10 : this.ipCursor + 1;
      if (!used.has(ip) && !reserved.has(ip)) return ip;
    }
    throw new Error("pods runner: no free pod IP");
  }

  mark(kind: TimelineEvent["kind"], name: string, what: string): void {
    this.timeline.push({ at: Date.now(), kind, name, what });
  }

  // ---- the engine's provider hook ----

  async provider(step: ProviderStep): Promise<{ id: string; outputs: Record<string, any> }> {
    const inputs = unwrapSecrets<Obj>(step.inputs);
    const kind = step.type;
    const meta = inputs.metadata ?? {};
    const key = (k: string) => `${k}/${meta.namespace ?? ""}/${meta.name}`;
    const id = () => `${meta.namespace ? `${meta.namespace}/` : ""}${meta.name ?? step.name}`;
    if (step.op === "update") {
      // In place (the engine sends replacements as creates of the new object; old ones stay until the end of the up,
      // as with create-before-delete): a StatefulSet rolls its pods when the template changed; a Job's spec is
      // immutable (a change is a replacement), so an update touches its metadata only; other objects are stored.
      switch (kind) {
        case "pulumi:providers:kubernetes":
          return { id: step.prior?.id ?? randomUUID(), outputs: step.inputs };
        case "kubernetes:apps/v1:StatefulSet":
          await this.updateStatefulSet(inputs, step.options.customTimeouts?.update);
          return { id: id(), outputs: { ...step.inputs, status: { readyReplicas: inputs.spec.replicas } } };
        case "kubernetes:batch/v1:Job":
        case "kubernetes:core/v1:ConfigMap":
        case "kubernetes:core/v1:Secret":
        case "kubernetes:core/v1:Namespace":
        case "kubernetes:core/v1:ServiceAccount":
        case "kubernetes:policy/v1:PodDisruptionBudget":
        case "kubernetes:networking.k8s.io/v1:NetworkPolicy":
          this.objects.set(key(kind.split(":")[2]), inputs);
          return { id: id(), outputs: { ...(step.prior?.outputs ?? {}), ...step.inputs } };
        case "kubernetes:core/v1:Service":
          this.objects.set(key("Service"), inputs);
          this.writeDns();
          return { id: id(), outputs: { ...step.inputs, spec: { ...step.inputs.spec, clusterIP: inputs.spec?.clusterIP ?? "10.96.0.10" } } };
        default:
          if (kind.startsWith("kubernetes:monitoring.coreos.com/")) return { id: id(), outputs: { ...step.inputs } };
          throw new Error(`pods runner: in-place update of ${step.type} ${step.name} is not implemented`);
      }
    }
    switch (kind) {
      case "pulumi:providers:kubernetes":
        return { id: randomUUID(), outputs: step.inputs };
      case "random:index/randomPassword:RandomPassword": {
        refuse(`RandomPassword ${step.name}`, inputs, ["length", "special"]);
        const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        const bytes = randomBytes(inputs.length);
        const result = [...bytes].map((b) => alphabet[b % alphabet.length]).join("");
        return { id: randomUUID(), outputs: { ...step.inputs, result } };
      }
      case "kubernetes:core/v1:ConfigMap":
      case "kubernetes:core/v1:Secret":
        this.objects.set(key(kind.split(":")[2]), inputs);
        return { id: id(), outputs: { ...step.inputs } };
      case "kubernetes:core/v1:Service":
        this.objects.set(key("Service"), inputs);
        return { id: id(), outputs: { ...step.inputs, spec: { ...step.inputs.spec, clusterIP: inputs.spec?.clusterIP ?? "10.96.0.10" } } };
      case "kubernetes:core/v1:Namespace":
      case "kubernetes:core/v1:ServiceAccount":
      case "kubernetes:policy/v1:PodDisruptionBudget":
      case "kubernetes:networking.k8s.io/v1:NetworkPolicy":
        this.objects.set(key(kind.split(":")[2]), inputs);
        return { id: id(), outputs: { ...step.inputs, status: {} } };
      case "kubernetes:apps/v1:StatefulSet":
        await this.createStatefulSet(inputs, step.options.customTimeouts?.create);
        return { id: id(), outputs: { ...step.inputs, status: { readyReplicas: inputs.spec.replicas } } };
      case "kubernetes:batch/v1:Job": {
        this.mark("job", meta.name, "start");
        const r = await runJob(this.env, inputs, join(this.dir, "jobs"), (p) => this.trackJobPod(p));
        this.mark("job", meta.name, r.succeeded ? "Complete" : r.reason);
        this.jobs.push(r);
        if (!r.succeeded) {
          const last = r.attempts[r.attempts.length - 1];
          throw new Error(`Job ${meta.name} failed (${r.reason}) after ${r.attempts.length} attempt(s); last termination message:\n${last?.terminationMessage ?? ""}`);
        }
        return { id: id(), outputs: { ...step.inputs, status: { succeeded: 1 } } };
      }
      default:
        // @pulumi/tls: real keys and certificates (../tlsProvider.ts), as the provider makes them.
        if (TLS_TYPES.includes(kind)) return applyTls({ type: kind, name: step.name, inputs });
        // The Prometheus Operator's objects (PrometheusRule, ServiceMonitor): no operator runs here.
        if (kind.startsWith("kubernetes:monitoring.coreos.com/")) {
          this.notRun.push(`${inputs.kind}/${meta.name}`);
          return { id: id(), outputs: { ...step.inputs } };
        }
        throw new Error(`pods runner: resource type ${kind} (${step.name}) is not implemented`);
    }
  }

  private currentJobPod?: Pod;
  private readonly removals = new Set<Promise<void>>();
  private trackJobPod(p: Pod | undefined, removal?: Promise<void>): void {
    if (p) this.jobPods.add(p);
    if (this.currentJobPod && !p) {
      const done = this.currentJobPod;
      if (removal) {
        const r = removal.catch(() => undefined).finally(() => {
          this.jobPods.delete(done);
          this.removals.delete(r);
        });
        this.removals.add(r);
      } else this.jobPods.delete(done);
    }
    this.currentJobPod = p;
    this.writeDns();
  }

  /** `pulumi up` of the program (stack Pulumi.<stack>.yaml plus `config`), every step applied here. */
  up(args: UpArgs): Promise<UpResult> {
    return upOn(Promise.resolve(this), args);
  }

  // ---- StatefulSet controller ----

  private async createStatefulSet(sts: Obj, timeout: string | undefined): Promise<void> {
    const name: string = sts.metadata.name;
    const spec = sts.spec;
    refuse(`StatefulSet ${name}.spec`, spec, [
      "serviceName", "replicas", "podManagementPolicy", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "selector", "template", "volumeClaimTemplates",
    ]);
    if (spec.podManagementPolicy !== "Parallel") throw new Error(`pods runner: StatefulSet ${name}: podManagementPolicy ${spec.podManagementPolicy}: only Parallel is implemented`);
    if (spec.updateStrategy && (spec.updateStrategy.type !== "RollingUpdate" || (spec.updateStrategy.rollingUpdate?.partition ?? 0) !== 0)) {
      throw new Error(`pods runner: StatefulSet ${name}: only RollingUpdate with partition 0 is implemented`);
    }
    refuse(`StatefulSet ${name}.spec.template`, spec.template, ["metadata", "spec"]);
    const labels = spec.template.metadata?.labels ?? {};
    for (const [k, v] of Object.entries(spec.selector?.matchLabels ?? {})) {
      if (labels[k] !== v) throw new Error(`pods runner: StatefulSet ${name}: selector ${k}=${v} does not match the template's labels`);
    }
    for (const t of spec.volumeClaimTemplates ?? []) {
      refuse(`StatefulSet ${name} claim template ${t.metadata?.name}.spec`, t.spec, ["accessModes", "storageClassName", "resources"]);
    }
    checkPodSpec(spec.template.spec, `StatefulSet ${name} pod`, "statefulset", spec.replicas);
    this.objects.set(`StatefulSet/${sts.metadata.namespace}/${name}`, sts);
    this.sets.set(name, { obj: sts, held: new Set(), creating: new Set() });
    this.controller ??= this.controlLoop();
    const ms = durationMs(timeout) ?? 600_000;
    await this.waitReady(this.podNames(name), ms);
  }

  /**
   * `kubectl apply` of a changed StatefulSet as the controller runs a RollingUpdate (partition 0, maxUnavailable 1):
   * when the pod template changed, the pods are replaced highest ordinal first, each deleted gracefully (preStop) once
   * every pod is Ready, and recreated from the new template; the update is done when the last one is Ready (as
   * pulumi-kubernetes awaits the rollout). Other spec changes than the template are refused (scaling is not implemented).
   */
  private async updateStatefulSet(sts: Obj, timeout: string | undefined): Promise<void> {
    const name: string = sts.metadata.name;
    const s = this.sets.get(name);
    if (!s) throw new Error(`pods runner: update of StatefulSet ${name}, which does not exist`);
    const old = s.obj.spec;
    const spec = sts.spec;
    for (const f of ["serviceName", "replicas", "podManagementPolicy", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "selector"]) {
      if (JSON.stringify(old[f]) !== JSON.stringify(spec[f])) throw new Error(`pods runner: StatefulSet ${name}: an update of spec.${f} is not implemented`);
    }
    refuse(`StatefulSet ${name}.spec.template`, spec.template, ["metadata", "spec"]);
    checkPodSpec(spec.template.spec, `StatefulSet ${name} pod`, "statefulset", spec.replicas);
    const templateChanged = JSON.stringify(old.template) !== JSON.stringify(spec.template);
    // ignoreChanges keeps the claim templates as they were; the controller keeps the claims either way.
    s.obj = { ...sts, spec: { ...spec, volumeClaimTemplates: old.volumeClaimTemplates } };
    this.objects.set(`StatefulSet/${sts.metadata.namespace}/${name}`, s.obj);
    if (!templateChanged) return;
    const ms = durationMs(timeout) ?? 600_000;
    const t0 = Date.now();
    const names = this.podNames(name);
    for (const pod of [...names].reverse()) {
      const left = ms - (Date.now() - t0);
      await this.waitReady(names, left);
      this.mark("pod", pod, "rolling update: delete (graceful)");
      const old = this.pods.get(pod);
      await this.deletePod(pod, "graceful");
      this.mark("pod", pod, "rolling update: deleted");
      const preStop = old?.events.find((e) => e.what.startsWith("preStop"));
      if (preStop) this.mark("pod", pod, preStop.what);
      await this.waitReady([pod], ms - (Date.now() - t0));
      this.mark("pod", pod, "rolling update: replacement Ready");
    }
  }

  podNames(sts: string): string[] {
    const s = this.sets.get(sts);
    if (!s) throw new Error(`pods runner: no StatefulSet ${sts}`);
    return Array.from({ length: s.obj.spec.replicas }, (_, i) => `${sts}-${i}`);
  }

  private claimDirs(s: StatefulSetState, pod: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const t of s.obj.spec.volumeClaimTemplates ?? []) {
      const d = join(this.dir, "claims", `${t.metadata.name}-${pod}`);
      if (!existsSync(d)) mkdirSync(d, { recursive: true, mode: 0o755 });
      out[t.metadata.name] = d;
    }
    return out;
  }

  private readonly lastReady = new Map<Pod, boolean>();
  private async controlLoop(): Promise<void> {
    while (!this.stopping) {
      for (const [name, s] of this.sets) {
        for (const pod of this.podNames(name)) {
          const p = this.pods.get(pod);
          if (p && (this.lastReady.get(p) ?? false) !== p.ready) {
            this.lastReady.set(p, p.ready);
            this.mark("pod", pod, p.ready ? `Ready (${p.ip})` : "not Ready");
          }
          if (p && p.phase === "Failed" && !p.deleting) void this.deletePod(pod, "graceful");
          if (p || s.held.has(pod) || s.creating.has(pod) || this.stopping) continue;
          s.creating.add(pod);
          void this.createPod(s, pod).finally(() => s.creating.delete(pod));
        }
      }
      this.writeDns();
      await sleep(200);
    }
  }

  private async createPod(s: StatefulSetState, name: string): Promise<void> {
    const t = s.obj.spec.template;
    this.mark("pod", name, "create");
    const pod = new Pod(this.env, {
      name,
      namespace: s.obj.metadata.namespace,
      labels: t.metadata?.labels ?? {},
      spec: t.spec,
      ip: this.allocateIp(name),
      claims: this.claimDirs(s, name),
      dir: join(this.dir, "pods", `${name}-${Date.now()}`),
    });
    this.pods.set(name, pod);
    try {
      await pod.start();
    } catch (e) {
      // A pod the runner cannot create (refused field, Docker error) fails the waiting step at once, and the
      // controller does not retry it in a loop.
      this.log(`pod ${name} failed to start: ${(e as Error).message}`);
      this.fatal ??= new Error(`pod ${name} could not be created: ${(e as Error).message}`);
      s.held.add(name);
      await pod.delete("force");
      if (this.pods.get(name) === pod) this.pods.delete(name);
    }
    this.writeDns();
  }

  /** The cluster DNS: every pod of a StatefulSet under its headless Service (ready ones only without publishNotReadyAddresses). */
  writeDns(): void {
    const lines = ["127.0.0.1 localhost"];
    for (const s of this.sets.values()) {
      const ns = s.obj.metadata.namespace;
      const svc = this.objects.get(`Service/${ns}/${s.obj.spec.serviceName}`);
      if (!svc || svc.spec?.clusterIP !== "None") continue;
      const all = svc.spec.publishNotReadyAddresses === true;
      for (const pod of this.podNames(s.obj.metadata.name)) {
        const p = this.pods.get(pod);
        if (p?.ip && (all || p.ready)) lines.push(`${p.ip} ${pod}.${svc.metadata.name}.${ns}.svc.cluster.local`);
      }
    }
    const text = `${lines.join("\n")}\n`;
    if (text === this.lastHosts) return;
    this.lastHosts = text;
    // In place (same inode): the file is bind-mounted into every container.
    writeFileSync(this.env.hostsFile, text);
  }

  /** Keeps the StatefulSet from recreating `pod` until release() (a late pod). */
  hold(pod: string): void {
    for (const s of this.sets.values()) if (pod.startsWith(`${s.obj.metadata.name}-`)) s.held.add(pod);
  }
  release(pod: string, ip?: string): void {
    if (ip) this.setNextIp(pod, ip);
    for (const s of this.sets.values()) s.held.delete(pod);
  }

  /** Deletes a pod (see Pod.delete for the modes); the StatefulSet recreates it unless held. Resolves when it is gone. */
  async deletePod(name: string, mode: "graceful" | "force" | "crash"): Promise<void> {
    const p = this.pods.get(name);
    if (!p) return;
    this.mark("pod", name, `delete (${mode})`);
    if (mode !== "graceful") {
      // Forced: the API object is gone at once; the containers are killed.
      await p.delete(mode);
      if (this.pods.get(name) === p) this.pods.delete(name);
    } else {
      await p.delete("graceful");
      if (this.pods.get(name) === p) this.pods.delete(name);
    }
    this.lastReady.delete(p);
    this.mark("pod", name, `gone (${mode})`);
    this.writeDns();
  }

  pod(name: string): Pod {
    const p = this.pods.get(name);
    if (!p) throw new Error(`pods runner: no pod ${name}`);
    return p;
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

  /** `kubectl rollout restart`: highest ordinal first, each pod deleted gracefully and its replacement Ready before the next. */
  async rolloutRestart(sts: string, timeoutPerPodMs: number): Promise<{ pod: string; ms: number; preStop?: string }[]> {
    const out: { pod: string; ms: number; preStop?: string }[] = [];
    const names = this.podNames(sts);
    for (const pod of [...names].reverse()) {
      const t = Date.now();
      await this.waitReady(names, timeoutPerPodMs);
      const old = this.pods.get(pod);
      await this.deletePod(pod, "graceful");
      await this.waitReady([pod], timeoutPerPodMs);
      out.push({ pod, ms: Date.now() - t, preStop: old?.events.find((e) => e.what.startsWith("preStop"))?.what });
    }
    return out;
  }

  /** Removes every pod, the network, the daemon and the runner's directory; returns what was left (nothing, normally). */
  async stop(): Promise<{ mountsLeft: string[]; dirLeft: boolean; daemonAlive: boolean; bridgeLeft: boolean }> {
    this.stopping = true;
    await this.controller?.catch(() => undefined);
    await Promise.allSettled([...this.removals]);
    await Promise.allSettled([...this.pods.values(), ...this.jobPods].map((p) => p.delete("force")));
    this.pods.clear();
    const daemonDir = this.dockerd.dir;
    try {
      await this.dockerd.docker.getNetwork(this.network).remove().catch(() => undefined);
    } finally {
      await this.dockerd.stop().catch((e) => this.log(`dockerd stop: ${(e as Error).message}`));
      rmSync(this.dir, { recursive: true, force: true });
    }
    let daemonAlive = false;
    try {
      process.kill(this.dockerd.pid, 0);
      daemonAlive = true;
    } catch {
      /* gone */
    }
    const addrs = spawnSync("ip", ["-4", "-o", "addr", "show"], { encoding: "utf8" }).stdout ?? "";
    return {
      mountsLeft: [...mountsUnder(daemonDir), ...mountsUnder(this.dir)],
      dirLeft: existsSync(this.dir) || existsSync(daemonDir),
      daemonAlive,
      bridgeLeft: addrs.includes(` ${this.prefix}.1/`),
    };
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
