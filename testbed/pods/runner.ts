// "Pods as containers": the prod program's Kubernetes objects run on a private Docker engine with kubelet and
// controller semantics, since no API server can run here. The program runs as `pulumi up` runs it (testbed/engine:
// Pulumi's own runtime); each step the engine hands over goes to the handler of its type (./resources/table.ts):
//   ConfigMap, Secret        kept (their data feeds the pods' volumes and env)
//   Service                  ./podNetwork.ts: a ClusterIP one gets a virtual IP routed by iptables DNAT in every pod
//                            to its Ready pods (./serviceProxy.ts); DNS (./dns.ts) names every Service and, under a
//                            headless one, each StatefulSet pod; names not in it do not resolve; a LoadBalancer one
//                            also an ingress address reachable from the outside client (./loadBalancer.ts,
//                            ./outsideClient.ts); deleted (a later up drops it): its addresses and names go
//   NetworkPolicy            enforced (ingress) by iptables in each selected pod (./networkPolicy.ts)
//   StatefulSet              the controller (./statefulSet.ts); rolloutRestart() as `kubectl rollout restart`
//   Job                      ./job.ts: awaited until Complete; failure (backoffLimit, activeDeadlineSeconds) fails the step
//   Deployment               the controller (./deployment.ts): replicas kept running, a template change rolled out
//   CronJob                  stored (./cronJob.ts); runCronJob() runs its job template as a Job (no schedule runs it)
//   PodDisruptionBudget      honoured by the Eviction API (./eviction.ts)
//   Namespace, ServiceAccount, the provider, RandomPassword: recorded (a generated password is
//                            real; a ServiceAccount is checked by the pods that name it)
//   PrometheusRule/ServiceMonitor (CustomResource): recorded, not run (no Prometheus Operator)
// Pod IPs come from a /24 of 172.30.0.0/16 of the runner's own network (./ips.ts); a scenario chooses the next IP of a pod.
import { runProgram, type ConfigInput, type EngineState, type ProviderStep, type RemoveStep, type RunResult } from "../engine/engine";
import { unwrapSecrets } from "../engine/values";
import { Unemulated } from "../refuse";
import type { PrivateDockerd } from "../docker/daemon";
import { startPodsDaemon, stopPodsDaemon, subnetPrefix, type Leftovers, type PodsDaemon } from "./daemon";
import { DeploymentController } from "./deployment";
import { ClusterDns } from "./dns";
import { PodIps } from "./ips";
import { JobPods, type JobResult } from "./job";
import type { Pod, PodEnv } from "./pod";
import { LB_NODE_HOST, LoadBalancerNode } from "./loadBalancer";
import type { OutsideClient } from "./outsideClient";
import { PodNetwork } from "./podNetwork";
import type { Forward } from "./serviceProxy";
import type { StepOutput } from "./resources/handler";
import { handlerFor } from "./resources/table";
import { runCronJob } from "./resources/workloads";
import type { Obj } from "./spec";
import { StatefulSetController } from "./statefulSet";

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
  /** Program relative to the root and its whole stack config (test fixtures: RunOptions.program, stackConfig). */
  program?: string;
  stackConfig?: Record<string, ConfigInput>;
  /** Resource names or URNs replaced even when unchanged (`pulumi up --replace`). */
  replace?: string[];
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
 * its start in the engine (tsx, the SDKs, the dynamic-provider host) overlaps with the daemon's start and the
 * image imports when `runner` is still starting (PodsRunner.start() not awaited); each step waits for it.
 */
export async function upOn(runner: Promise<PodsRunner>, args: UpArgs): Promise<UpResult> {
  const t0 = Date.now();
  const stepMs: Record<string, number> = {};
  const applied = new Set<string>();
  /** Objects this up created or updated (type and namespace/name): a replacement's old half must not remove them. */
  const written = new Set<string>();
  const run = await runProgram({
    stack: args.stack,
    mode: "up",
    config: args.config,
    root: args.root,
    priorState: args.priorState,
    program: args.program,
    stackConfig: args.stackConfig,
    replace: args.replace,
    timeoutMs: args.timeoutMs ?? 900_000,
    provider: async (step) => {
      const r = await runner;
      r.mark("step", step.name, `${step.op} ${step.type.replace(/^kubernetes:/, "")} start`);
      try {
        const out = await r.provider(step);
        applied.add(step.urn);
        written.add(objectKey(step.type, unwrapSecrets<Obj>(step.inputs)));
        r.mark("step", step.name, `${step.op} done`);
        return out;
      } catch (e) {
        r.mark("step", step.name, `${step.op} failed`);
        throw e;
      } finally {
        stepMs[step.name] = Date.now() - t0;
      }
    },
    remove: async (step) => {
      const r = await runner;
      if (step.reason === "replace" && written.has(objectKey(step.type, unwrapSecrets<Obj>(step.prior.inputs)))) return;
      r.mark("step", step.name, `delete ${step.type.replace(/^kubernetes:/, "")}`);
      await r.remove(step);
    },
  });
  const r = await runner;
  // As testbed/docker/stack.ts keeps it: a custom resource whose step failed (or never ran) keeps no entry; unchanged
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

/** A Kubernetes object's identity: its type and namespace/name. */
const objectKey = (type: string, inputs: Obj) => `${type} ${inputs.metadata?.namespace ?? ""}/${inputs.metadata?.name ?? ""}`;

export class PodsRunner {
  readonly objects = new Map<string, Obj>();
  readonly jobs: JobResult[] = [];
  readonly notRun: string[] = [];
  /** Steps, Jobs, pod deletions/creations and readiness changes, in order (a scenario tells what a client error met). */
  readonly timeline: TimelineEvent[] = [];
  readonly env: PodEnv;
  readonly statefulSets: StatefulSetController;
  readonly deployments: DeploymentController;
  readonly jobPods: JobPods;
  readonly ips: PodIps;
  readonly network: PodNetwork;
  readonly dockerd: PrivateDockerd;
  /** The pods' files (./daemon.ts). */
  readonly dir: string;
  /** The pods' Docker network. */
  readonly dockerNetwork: string;
  readonly subnet: string;

  private constructor(
    private readonly daemon: PodsDaemon,
    private readonly log: (l: string) => void,
    cgroupParent?: string,
  ) {
    ({ dockerd: this.dockerd, dir: this.dir, network: this.dockerNetwork, subnet: this.subnet } = daemon);
    const dns = new ClusterDns(daemon.dir);
    this.ips = new PodIps(this.prefix);
    this.network = new PodNetwork(
      {
        objects: this.objects,
        allPods: () => this.allPods(),
        podRecords: () => this.statefulSets.dnsRecords(),
        log,
        startLoadBalancerNode: () =>
          LoadBalancerNode.start({ docker: daemon.dockerd.docker, network: daemon.network, prefix: this.prefix, image: daemon.images.redis, cgroupParent, log }),
      },
      dns,
      `${this.prefix}.1`,
      `${this.prefix}.${LB_NODE_HOST}`,
    );
    this.network.start();
    this.env = {
      docker: daemon.dockerd.docker,
      network: daemon.network,
      hostsFile: dns.hostsFile,
      resolvFile: dns.resolvFile,
      image: (ref) => this.image(ref),
      configMap: (ns, name) => this.data("ConfigMap", ns, name),
      secret: (ns, name) => this.data("Secret", ns, name),
      hasSecret: (ns, name) => this.objects.has(`Secret/${ns}/${name}`),
      hasServiceAccount: (ns, name) => this.objects.has(`ServiceAccount/${ns}/${name}`),
      log,
      cgroupParent,
      sandboxUp: (pod) => this.network.podUp(pod),
      sandboxGone: (_pod, pid) => this.network.podGone(pid),
    };
    this.statefulSets = new StatefulSetController(this);
    this.deployments = new DeploymentController(this);
    this.jobPods = new JobPods(() => this.syncNetwork());
  }

  /** Starts a private dockerd, imports the stand-in images (Redis, exporter, Node) and creates the pods network. */
  static async start(opts: RunnerOptions = {}): Promise<PodsRunner> {
    const log = opts.log ?? (() => undefined);
    return new PodsRunner(await startPodsDaemon({ log, subnet: opts.subnet }), log, opts.cgroupParent);
  }

  get prefix(): string {
    return subnetPrefix(this.subnet);
  }
  /** The StatefulSets' pods by name. */
  get pods(): Map<string, Pod> {
    return this.statefulSets.pods;
  }
  /** The first pod the runner could not create: every wait fails with it. */
  get fatal(): Error | undefined {
    return this.statefulSets.fatal;
  }

  /** Stand-ins a caller imported into the runner's engine itself (e.g. the backup image), by the program's reference. */
  private readonly extraImages = new Map<string, string>();
  /** Runs pods of image `ref` (as the program names it) from the local image `local`, already in `dockerd`. */
  addStandIn(ref: string, local: string): void {
    this.extraImages.set(ref, local);
  }

  /** The stand-in for an image reference of the program (no registry: redis, oliver006/redis_exporter, node, and those added). */
  image(ref: string): string {
    const images = this.daemon.images;
    if (Object.values(images).includes(ref)) return ref;
    const extra = this.extraImages.get(ref);
    if (extra) return extra;
    const repo = ref.replace(/[:@].*$/, "");
    const m: Record<string, string> = { redis: images.redis, "oliver006/redis_exporter": images.exporter, node: images.node };
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

  mark(kind: TimelineEvent["kind"], name: string, what: string): void {
    this.timeline.push({ at: Date.now(), kind, name, what });
  }

  /** The engine's provider hook: the step goes to the handler of its type; a type without one is refused by name. */
  async provider(step: ProviderStep): Promise<StepOutput> {
    const inputs = unwrapSecrets<Obj>(step.inputs);
    const meta = inputs.metadata ?? {};
    const s = {
      step,
      inputs,
      id: `${meta.namespace ? `${meta.namespace}/` : ""}${meta.name ?? step.name}`,
      key: (kind: string) => `${kind}/${meta.namespace ?? ""}/${meta.name}`,
    };
    const handler = handlerFor(step.type);
    if (step.op === "update") {
      // In place: the engine sends replacements as creates of the new object; old ones stay until the end of the up,
      // as with create-before-delete.
      if (!handler?.update) throw new Unemulated(`pods runner: in-place update of ${step.type} ${step.name} is not implemented`);
      return handler.update(s, this);
    }
    if (!handler) throw new Unemulated(`pods runner: resource type ${step.type} (${step.name}) is not implemented`);
    return handler.create(s, this);
  }

  /**
   * The engine's delete hook (a resource the program dropped, or the old half of a replacement): the handler of its
   * type removes what it made; a Kubernetes type without a removal is refused by name; other types (components) had
   * nothing applied.
   */
  async remove(step: RemoveStep): Promise<void> {
    const inputs = unwrapSecrets<Obj>(step.prior.inputs);
    const meta = inputs.metadata ?? {};
    const handler = handlerFor(step.type);
    if (!handler && !step.type.startsWith("kubernetes:") && !step.type.startsWith("pulumi:providers:")) return;
    if (!handler?.remove) throw new Unemulated(`pods runner: deleting ${step.type} ${step.name} is not implemented`);
    await handler.remove(
      { type: step.type, inputs, id: `${meta.namespace ? `${meta.namespace}/` : ""}${meta.name ?? step.name}`, key: (kind: string) => `${kind}/${meta.namespace ?? ""}/${meta.name}` },
      this,
    );
  }

  /** `pulumi up` of the program (stack Pulumi.<stack>.yaml plus `config`), every step applied here. */
  up(args: UpArgs): Promise<UpResult> {
    return upOn(Promise.resolve(this), args);
  }

  /** Every pod that exists: the StatefulSets', the Deployments' and the Jobs'. */
  allPods(): Pod[] {
    return [...this.pods.values(), ...this.deployments.allPods(), ...this.jobPods.list()];
  }

  /** Brings the DNS and every pod's Service and NetworkPolicy rules up to date with the pods as they are now. */
  syncNetwork(): void {
    void this.network.sync();
  }

  /**
   * The Service's port reachable from the host (127.0.0.1:<port>), each connection to one of its endpoints of the
   * moment: how host clients connect "through the Service" (its virtual IP routes only inside the pods).
   */
  forwardService(name: string, port: number, namespace: string): Promise<Forward> {
    return this.network.forward(namespace, name, port);
  }

  /**
   * The client outside the cluster (a network namespace reaching the pods only through the LoadBalancer Services,
   * resolving their external-dns names); it exists once the program created a LoadBalancer Service.
   */
  get outside(): OutsideClient {
    const o = this.network.outside;
    if (!o) throw new Error("pods runner: no outside client: the program created no LoadBalancer Service");
    return o;
  }

  // ---- what scenarios do to pods (./statefulSet.ts) ----

  podNames(sts: string): string[] {
    return this.statefulSets.podNames(sts);
  }

  pod(name: string): Pod {
    const p = this.pods.get(name);
    if (!p) throw new Error(`pods runner: no pod ${name}`);
    return p;
  }

  /** The pod's next creation uses this IP (a scenario reusing or swapping addresses). */
  setNextIp(pod: string, ip: string): void {
    this.ips.setNext(pod, ip);
  }

  /** Keeps the StatefulSet from recreating `pod` until release() (a late pod). */
  hold(pod: string): void {
    this.statefulSets.hold(pod);
  }

  /** Lets the StatefulSet recreate `pod`, at `ip` if given. */
  release(pod: string, ip?: string): void {
    if (ip) this.setNextIp(pod, ip);
    this.statefulSets.release(pod);
  }

  /** Deletes a pod (see Pod.delete for the modes); the StatefulSet recreates it unless held. Resolves when it is gone. */
  deletePod(name: string, mode: "graceful" | "force" | "crash"): Promise<void> {
    return this.statefulSets.deletePod(name, mode);
  }

  waitReady(pods: string[], timeoutMs: number): Promise<number> {
    return this.statefulSets.waitReady(pods, timeoutMs);
  }

  /** `kubectl rollout restart`: highest ordinal first, each pod deleted gracefully and its replacement Ready before the next. */
  rolloutRestart(sts: string, timeoutPerPodMs: number): Promise<{ pod: string; ms: number; preStop?: string }[]> {
    return this.statefulSets.rolloutRestart(sts, timeoutPerPodMs);
  }

  /** Runs the CronJob's job template once as a Job, now (no schedule runs it here); resolves with its outcome. */
  runCronJob(name: string, namespace?: string): Promise<JobResult> {
    return runCronJob(this, name, namespace);
  }

  /** Removes every pod, the network, the daemon and the runner's directory; returns what was left (nothing, normally). */
  async stop(): Promise<Leftovers> {
    await this.statefulSets.stop();
    const deploymentPods = await this.deployments.stop();
    const jobPods = await this.jobPods.settle();
    await Promise.allSettled([...this.pods.values(), ...deploymentPods, ...jobPods].map((p) => p.delete("force")));
    this.pods.clear();
    const outsideLeft = await this.network.stop(this.dockerd.docker);
    return { ...(await stopPodsDaemon(this.daemon, this.log)), outsideLeft };
  }
}
