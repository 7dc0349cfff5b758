// One pod on the Docker engine, with the kubelet's behaviour for what the program's pod specs use: a sandbox container
// holds the pod's IP (chosen by the runner), hostname and network namespace; each container joins it
// (--network container:<sandbox>), gets its env (values with $(VAR) expansion, fieldRefs, secretKeyRefs), its volumes
// (ConfigMap/Secret files with their modes and fsGroup, emptyDir, the pod's claim) and its securityContext as
// --user/--group-add/--read-only/--cap-drop ALL/no-new-privileges. Probes run at the spec's periods; a failed startup or
// liveness probe restarts the container; a pod is Ready when every container is. Deletion runs preStop, then SIGTERM,
// then SIGKILL at the end of terminationGracePeriodSeconds; a forced deletion or a crash kills at once.
import { spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { PassThrough } from "node:stream";
import type Docker from "dockerode";
import { sleep } from "../../smoke/time";
import { Unemulated } from "../refuse";
import { bytesOf, expand, nanoCpusOf, type Obj } from "./spec";

export interface PodEnv {
  docker: Docker;
  /** Docker network of the pods. */
  network: string;
  /** The cluster's /etc/hosts (its DNS) and a resolv.conf pointing at nothing (names not in it do not resolve). */
  hostsFile: string;
  resolvFile: string;
  /** Local image for an image reference of the program; throws for an unmapped one. */
  image(ref: string): string;
  configMap(namespace: string, name: string): Record<string, string>;
  secret(namespace: string, name: string): Record<string, string>;
  hasSecret(namespace: string, name: string): boolean;
  /** A ServiceAccount the program created (the namespace's `default` one exists without it). */
  hasServiceAccount(namespace: string, name: string): boolean;
  log(line: string): void;
  /** Cgroup parent of every container (as a kubelet's pod cgroups): where the run's CPU is counted (./cpu.ts). */
  cgroupParent?: string;
  /** How exec probes run: "nsenter" (default, see nsExec) or "docker" (docker exec, which costs far more CPU per probe). */
  probeExec?: "nsenter" | "docker";
  /** The sandbox is up (IP, network namespace): the pod's network rules are written before its containers start. */
  sandboxUp?(pod: Pod): Promise<void>;
  /** The pod's sandbox is removed. */
  sandboxGone?(pod: Pod, pid: number): void;
}

export interface PodArgs {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  spec: Obj;
  /** Fixed IP on the pods network; undefined = Docker's dynamic range. */
  ip?: string;
  /** Claim volumes (name -> host directory) that outlive the pod. */
  claims?: Record<string, string>;
  /** Where the pod's own files live (emptyDir, ConfigMap/Secret copies, termination logs); removed with the pod. */
  dir: string;
}

export interface ContainerStatus {
  name: string;
  id: string;
  started: boolean;
  ready: boolean;
  restarts: number;
  exitCode?: number;
  terminationMessage?: string;
  /** Output of the last failed readiness probe. */
  lastProbe?: string;
  logTail?: string;
}

export interface PodEvent {
  atMs: number;
  what: string;
}

/** Runs `cmd` in a container; output and exit code; a timeout ends the wait (the process may linger, as with the kubelet's exec probes). */
export async function execIn(docker: Docker, id: string, cmd: string[], user: string | undefined, timeoutMs: number): Promise<{ code: number; output: string }> {
  const ex = await docker.getContainer(id).exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true, User: user });
  const stream = await ex.start({ hijack: true, stdin: false });
  let output = "";
  const sink = new PassThrough();
  sink.on("data", (d) => (output += d));
  docker.modem.demuxStream(stream, sink, sink);
  const ended = new Promise<boolean>((ok) => {
    stream.on("end", () => ok(true));
    stream.on("close", () => ok(true));
    stream.on("error", () => ok(true));
  });
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([ended, new Promise<boolean>((ok) => (timer = setTimeout(() => ok(false), timeoutMs)))]);
  clearTimeout(timer);
  if (!inTime) {
    stream.destroy();
    return { code: -1, output: `${output}(timed out after ${timeoutMs} ms)` };
  }
  const info = await ex.inspect();
  return { code: info.ExitCode ?? -1, output };
}

/** What nsExec needs of a running container: its main process, cgroups, environment and user. */
export interface NsTarget {
  id: string;
  pid: number;
  /** cgroup.procs files of the container's cgroups (every v1 hierarchy and v2). */
  procs: string[];
  env: Record<string, string>;
  /** Never root: nsExec drops every capability, which is right only for a non-root user. */
  user: { uid: number; gid: number; groups: number[] };
}

/** Reads the target of a running container; undefined when it is not running or runs as root or a user name (docker exec then). */
export async function nsTarget(docker: Docker, id: string, user: NsTarget["user"] | undefined): Promise<NsTarget | undefined> {
  const info = await docker.getContainer(id).inspect();
  const pid = info.State?.Pid;
  if (!info.State?.Running || !pid || user?.uid === 0) return undefined;
  if (!user) {
    // The image's user (no runAsUser): numeric as the stand-ins set it. None (root) or a name: docker exec, which gives
    // root the container's own capabilities.
    const m = /^(\d+)(?::(\d+))?$/.exec(info.Config?.User ?? "");
    if (!m || m[1] === "0") return undefined;
    user = { uid: Number(m[1]), gid: Number(m[2] ?? m[1]), groups: [] };
  }
  const procs: string[] = [];
  for (const line of readFileSync(`/proc/${pid}/cgroup`, "utf8").trim().split("\n")) {
    const [, ctrl, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined) continue;
    const f = join("/sys/fs/cgroup", ctrl === "" ? "unified" : ctrl.replace(/^name=/, ""), path, "cgroup.procs");
    if (existsSync(f)) procs.push(f);
  }
  const env: Record<string, string> = {};
  for (const e of info.Config?.Env ?? []) {
    const i = e.indexOf("=");
    if (i > 0) env[e.slice(0, i)] = e.slice(i + 1);
  }
  return { id, pid, procs, env, user };
}

/** The target still names the container's running main process (not a restarted container, not a reused pid). */
export function nsTargetLive(t: NsTarget): boolean {
  try {
    return readFileSync(`/proc/${t.pid}/cgroup`, "utf8").includes(t.id);
  } catch {
    return false;
  }
}

/**
 * Runs `cmd` in a running container as an exec probe does, without `docker exec`: that one costs CPU in dockerd,
 * containerd, the shim, runc exec and runc init before the command runs, for every probe of every pod.
 * nsenter enters the container's own namespaces (mount with its root and working directory, UTS, IPC, network, PID)
 * from its main process, a small sh first joins the container's cgroups, and the container's own `setpriv` becomes its
 * user and groups with no capabilities (bounding and inheritable sets emptied) and no_new_privs, with the container's
 * environment (given to the process, never on argv). What runc exec does too; not applied: the container's seccomp
 * filter (Docker's default profile; a probe's sh and redis-cli use nothing it blocks) and AppArmor. A timeout ends the
 * wait and kills nothing (as the kubelet's exec probes).
 */
export function nsExec(t: NsTarget, cmd: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  const u = t.user;
  const priv = ["/usr/bin/setpriv", `--reuid=${u.uid}`, `--regid=${u.gid}`, u.groups.length ? `--groups=${u.groups.join(",")}` : "--clear-groups", "--bounding-set=-all", "--inh-caps=-all", "--no-new-privs", "--"];
  const args = [
    "-c", 'for f in "$@"; do shift; case $f in --) break ;; esac; echo $$ > "$f" 2>/dev/null; done; exec "$@"', "sh",
    ...t.procs, "--", "/usr/bin/nsenter", "-t", String(t.pid), "-m", "-u", "-i", "-n", "-p", "-r", "-w", "--", ...priv, ...cmd,
  ];
  return new Promise((resolve) => {
    const child = spawn("/bin/sh", args, { env: t.env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const timer = setTimeout(() => {
      child.stdout.destroy();
      child.stderr.destroy();
      child.unref();
      resolve({ code: -1, output: `${output}(timed out after ${timeoutMs} ms)` });
    }, timeoutMs);
    child.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: -1, output: e.message });
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : -1), output });
    });
  });
}

/** A file of a ConfigMap/Secret/projected volume; `mode` is the item's own (items[].mode), else the volume's defaultMode. */
interface VolumeFile {
  content: string;
  mode?: number;
}

export function writeTree(dir: string, files: Record<string, VolumeFile>, defaultMode: number, gid: number | undefined): void {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [path, { content, mode = defaultMode }] of Object.entries(files)) {
    const f = join(dir, path);
    mkdirSync(dirname(f), { recursive: true, mode: 0o755 });
    writeFileSync(f, content);
    // The kubelet: files owned by root, group fsGroup (when set) with group read added, mode the item's or defaultMode.
    chownSync(f, 0, gid ?? 0);
    chmodSync(f, gid !== undefined ? mode | 0o440 : mode);
  }
}

/** Files of a ConfigMap/Secret volume: every key, or only `items` (each at its path, with its mode). */
export function volumeFiles(what: string, data: Record<string, string>, items: Obj[] | undefined, optional: boolean): Record<string, VolumeFile> {
  const files: Record<string, VolumeFile> = {};
  for (const i of items ?? Object.keys(data).map((k): Obj => ({ key: k, path: k }))) {
    if (!(i.key in data)) {
      // optional: a missing key gives no file (the kubelet's behaviour); else the pod cannot start.
      if (optional) continue;
      throw new Error(`${what} has no key ${i.key}`);
    }
    files[i.path] = { content: data[i.key], mode: i.mode };
  }
  return files;
}

/** Upper bound on the entries one fsGroup walk visits: a claim holds a few Redis files, never this many. */
const MAX_OWNERSHIP_ENTRIES = 100_000;

/**
 * The kubelet's volume ownership for fsGroup (SetVolumeOwnership): every entry group-owned by fsGroup, group read and
 * write added, directories also group-executable and setgid; owners stay. Always walks the volume on every pod start;
 * OnRootMismatch only when the root's group or permissions differ. Returns how many entries it changed.
 */
export function applyFsGroup(root: string, fsGroup: number, policy: "Always" | "OnRootMismatch"): number {
  const st = statSync(root);
  const rootOk = st.gid === fsGroup && (st.mode & 0o2770) === 0o2770;
  if (policy === "OnRootMismatch" && rootOk) return 0;
  const stack = [root];
  let n = 0;
  for (let seen = 0; stack.length > 0; seen++) {
    if (seen >= MAX_OWNERSHIP_ENTRIES) throw new Error(`fsGroup: more than ${MAX_OWNERSHIP_ENTRIES} entries under ${root}`);
    const p = stack.pop()!;
    const s = statSync(p, { throwIfNoEntry: false });
    if (!s || s.isSymbolicLink()) continue;
    const dir = s.isDirectory();
    const mode = (s.mode & 0o7777) | 0o660 | (dir || s.mode & 0o100 ? 0o110 : 0) | (dir ? 0o2000 : 0);
    if (s.gid !== fsGroup || (s.mode & 0o7777) !== mode) {
      chownSync(p, s.uid, fsGroup);
      chmodSync(p, mode);
      n++;
    }
    if (dir) for (const e of readdirSync(p)) stack.push(join(p, e));
  }
  return n;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    try {
      total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
    } catch {
      /* removed meanwhile */
    }
  }
  return total;
}

export class Pod {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Record<string, string>;
  ip = "";
  /** Main process of the sandbox: its network namespace is the pod's. */
  sandboxPid = 0;
  phase: "Pending" | "Running" | "Succeeded" | "Failed" = "Pending";
  reason = "";
  deleting = false;
  readonly events: PodEvent[] = [];
  readonly containers: ContainerStatus[] = [];
  private sandboxId = "";
  private readonly t0 = Date.now();
  private stopped = false;
  private readonly loops: Promise<void>[] = [];
  private readonly emptyDirs: { dir: string; limit?: number }[] = [];

  constructor(private readonly env: PodEnv, private readonly args: PodArgs) {
    this.name = args.name;
    this.namespace = args.namespace;
    this.labels = args.labels;
  }

  get spec(): Obj {
    return this.args.spec;
  }

  get ready(): boolean {
    return this.phase === "Running" && !this.deleting && this.containers.length > 0 && this.containers.every((c) => c.ready);
  }

  private event(what: string): void {
    this.events.push({ atMs: Date.now() - this.t0, what });
    this.env.log(`pod ${this.name}: ${what}`);
  }

  private get podSc(): Obj {
    return this.args.spec.securityContext ?? {};
  }

  /** Creates the sandbox and the containers and starts them; probes and restarts run until deletion. */
  async start(): Promise<void> {
    const { docker } = this.env;
    const spec = this.args.spec;
    mkdirSync(this.args.dir, { recursive: true, mode: 0o755 });
    // The API server's admission refuses a pod whose ServiceAccount does not exist in its namespace.
    const sa: string | undefined = spec.serviceAccountName;
    if (sa !== undefined && sa !== "default" && !this.env.hasServiceAccount(this.namespace, sa)) {
      throw new Error(`pod ${this.name}: serviceAccountName ${sa}: no ServiceAccount ${this.namespace}/${sa} (the API server refuses the pod)`);
    }
    const fsGroup: number | undefined = this.podSc.fsGroup;
    const binds: Record<string, { host: string; alwaysRo: boolean }> = {};
    for (const v of spec.volumes ?? []) {
      const dir = join(this.args.dir, "volumes", v.name);
      if (v.configMap) {
        const data = this.env.configMap(this.namespace, v.configMap.name);
        writeTree(dir, volumeFiles(`pod ${this.name}: ConfigMap ${v.configMap.name}`, data, v.configMap.items, false), v.configMap.defaultMode ?? 0o644, fsGroup);
        binds[v.name] = { host: dir, alwaysRo: true };
      } else if (v.secret) {
        // optional: a missing Secret gives an empty volume (the kubelet's behaviour).
        const optional = v.secret.optional === true;
        const data = optional && !this.env.hasSecret(this.namespace, v.secret.secretName) ? {} : this.env.secret(this.namespace, v.secret.secretName);
        writeTree(dir, volumeFiles(`pod ${this.name}: Secret ${v.secret.secretName}`, data, v.secret.items, optional), v.secret.defaultMode ?? 0o644, fsGroup);
        binds[v.name] = { host: dir, alwaysRo: true };
      } else if (v.projected) {
        const files: Record<string, VolumeFile> = {};
        for (const s of v.projected.sources) Object.assign(files, volumeFiles("", this.env.configMap(this.namespace, s.configMap.name), undefined, false));
        writeTree(dir, files, v.projected.defaultMode ?? 0o644, fsGroup);
        binds[v.name] = { host: dir, alwaysRo: true };
      } else if (v.emptyDir) {
        mkdirSync(dir, { recursive: true });
        chmodSync(dir, 0o777); // emptyDir is world-writable, as the kubelet makes it
        this.emptyDirs.push({ dir, limit: v.emptyDir.sizeLimit ? bytesOf(v.emptyDir.sizeLimit) : undefined });
        binds[v.name] = { host: dir, alwaysRo: false };
      }
    }
    // The kubelet makes the mount points of mounts nested in a ConfigMap/Secret/projected volume inside that volume
    // (kubernetes#60342): those are read-only, so runc could not create them (e.g. tls/ under the config mount).
    const apiData = new Set((spec.volumes ?? []).filter((v: Obj) => v.configMap || v.secret || v.projected).map((v: Obj) => v.name));
    for (const c of spec.containers) {
      const mounts: Obj[] = c.volumeMounts ?? [];
      for (const parent of mounts.filter((m) => apiData.has(m.name) && binds[m.name])) {
        const base = parent.mountPath.replace(/\/+$/, "");
        for (const m of mounts) {
          if (m !== parent && m.mountPath.startsWith(`${base}/`)) mkdirSync(join(binds[parent.name].host, m.mountPath.slice(base.length + 1)), { recursive: true, mode: 0o755 });
        }
      }
    }
    for (const [name, host] of Object.entries(this.args.claims ?? {})) {
      if (fsGroup !== undefined) {
        const changed = applyFsGroup(host, fsGroup, this.podSc.fsGroupChangePolicy ?? "Always");
        if (changed) this.event(`claim ${name}: fsGroup ${fsGroup} applied to ${changed} entries`);
      }
      binds[name] = { host, alwaysRo: false };
    }

    // The sandbox: the pod's network namespace, IP and hostname; it runs nothing but a sleep.
    const firstImage = this.env.image(spec.containers[0].image);
    const sandbox = await docker.createContainer({
      name: `k8s_POD_${this.name}_${this.namespace}_${this.t0}`,
      Image: firstImage,
      Entrypoint: ["sleep"],
      Cmd: ["infinity"],
      User: "65535:65535",
      Hostname: this.name,
      Labels: { "redis-cluster.pods/pod": this.name },
      HostConfig: {
        NetworkMode: this.env.network,
        CgroupParent: this.env.cgroupParent,
        // The containers join its IPC namespace too, as in a pod.
        IpcMode: "shareable",
        ReadonlyRootfs: true,
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges"],
        Binds: [`${this.env.hostsFile}:/etc/hosts:ro`, `${this.env.resolvFile}:/etc/resolv.conf:ro`],
      },
      NetworkingConfig: { EndpointsConfig: { [this.env.network]: this.args.ip ? { IPAMConfig: { IPv4Address: this.args.ip } } : {} } },
    } as any);
    this.sandboxId = sandbox.id;
    await sandbox.start();
    const info = await sandbox.inspect();
    this.ip = info.NetworkSettings.Networks[this.env.network]?.IPAddress ?? "";
    if (!this.ip) throw new Error(`pod ${this.name}: the sandbox got no IP on ${this.env.network}`);
    this.sandboxPid = info.State?.Pid ?? 0;
    this.event(`sandbox up, IP ${this.ip}`);
    await this.env.sandboxUp?.(this);

    for (const c of spec.containers) {
      const id = await this.createContainer(c, binds, fsGroup);
      this.containers.push({ name: c.name, id, started: false, ready: false, restarts: 0 });
    }
    this.phase = "Running";
    for (const [i, c] of spec.containers.entries()) {
      await docker.getContainer(this.containers[i].id).start();
      this.event(`container ${c.name} started`);
      this.loops.push(this.supervise(c, this.containers[i]));
    }
    if (this.emptyDirs.some((e) => e.limit)) this.loops.push(this.watchEmptyDirs());
  }

  private async createContainer(c: Obj, binds: Record<string, { host: string; alwaysRo: boolean }>, fsGroup: number | undefined): Promise<string> {
    const sc = { ...this.podSc, ...(c.securityContext ?? {}) };
    const uid: number | undefined = sc.runAsUser;
    const gid: number | undefined = sc.runAsGroup ?? uid;
    if (sc.runAsNonRoot && (uid === undefined || uid === 0)) {
      throw new Unemulated(`pods runner: container ${c.name} of ${this.name}: runAsNonRoot needs a numeric non-zero runAsUser (the runner does not read the image's user)`);
    }
    // Environment in order: each value may refer to the ones before it.
    const vars: Record<string, string> = {};
    for (const e of c.env ?? []) {
      if (e.value !== undefined) vars[e.name] = expand(String(e.value), vars);
      else if (e.valueFrom?.fieldRef) {
        const p = e.valueFrom.fieldRef.fieldPath;
        vars[e.name] = p === "metadata.name" ? this.name : p === "metadata.namespace" ? this.namespace : this.ip;
      } else if (e.valueFrom?.secretKeyRef) {
        const data = this.env.secret(this.namespace, e.valueFrom.secretKeyRef.name);
        if (!(e.valueFrom.secretKeyRef.key in data)) throw new Error(`pod ${this.name}: Secret ${e.valueFrom.secretKeyRef.name} has no key ${e.valueFrom.secretKeyRef.key}`);
        vars[e.name] = data[e.valueFrom.secretKeyRef.key];
      }
    }
    const termLog = join(this.args.dir, `termination-log-${c.name}`);
    writeFileSync(termLog, "");
    chmodSync(termLog, 0o666);
    const mounts = (c.volumeMounts ?? []).map((m: Obj) => {
      const b = binds[m.name];
      if (!b) throw new Error(`pod ${this.name}: volume ${m.name} has no source`);
      return `${b.host}:${m.mountPath}${b.alwaysRo || m.readOnly ? ":ro" : ""}`;
    });
    const limits = c.resources?.limits ?? {};
    const requests = c.resources?.requests ?? {};
    const container = await this.env.docker.createContainer({
      name: `k8s_${c.name}_${this.name}_${this.namespace}_${this.t0}`,
      Image: this.env.image(c.image),
      Entrypoint: c.command ? c.command.map((a: string) => expand(a, vars)) : undefined,
      Cmd: c.args ? c.args.map((a: string) => expand(a, vars)) : c.command ? [] : undefined,
      Env: Object.entries(vars).map(([k, v]) => `${k}=${v}`),
      User: uid !== undefined ? `${uid}:${gid}` : undefined,
      Labels: { "redis-cluster.pods/pod": this.name, "redis-cluster.pods/container": c.name },
      HostConfig: {
        NetworkMode: `container:${this.sandboxId}`,
        CgroupParent: this.env.cgroupParent,
        IpcMode: `container:${this.sandboxId}`,
        Binds: [...mounts, `${this.env.hostsFile}:/etc/hosts:ro`, `${this.env.resolvFile}:/etc/resolv.conf:ro`, `${termLog}:/dev/termination-log`],
        GroupAdd: fsGroup !== undefined ? [String(fsGroup)] : undefined,
        ReadonlyRootfs: sc.readOnlyRootFilesystem === true,
        CapDrop: sc.capabilities?.drop ? ["ALL"] : undefined,
        SecurityOpt: sc.allowPrivilegeEscalation === false ? ["no-new-privileges"] : undefined,
        Memory: limits.memory ? bytesOf(limits.memory) : undefined,
        // A request is what the scheduler reserves; on one node the nearest is Docker's soft limit (memory reservation).
        MemoryReservation: requests.memory ? bytesOf(requests.memory) : undefined,
        NanoCpus: limits.cpu ? nanoCpusOf(limits.cpu) : undefined,
        CpuShares: requests.cpu ? Math.max(2, Math.round((nanoCpusOf(requests.cpu) / 1e9) * 1024)) : undefined,
      },
    } as any);
    return container.id;
  }

  private readonly nsTargets = new Map<string, NsTarget>();
  /** An exec probe's command in the container (see nsExec; docker exec when env.probeExec is "docker" or nsenter cannot). */
  private async exec(c: Obj, id: string, cmd: string[], timeoutMs: number): Promise<{ code: number; output: string }> {
    if (this.env.probeExec !== "docker") {
      let t = this.nsTargets.get(id);
      if (!t || !nsTargetLive(t)) {
        t = await nsTarget(this.env.docker, id, this.credentialsOf(c));
        if (t) this.nsTargets.set(id, t);
        else this.nsTargets.delete(id);
      }
      if (t) return nsExec(t, cmd, timeoutMs);
    }
    return execIn(this.env.docker, id, cmd, this.userOf(c), timeoutMs);
  }

  /** The container's uid, gid and supplementary groups (fsGroup), as Docker runs it. */
  private credentialsOf(c: Obj): { uid: number; gid: number; groups: number[] } | undefined {
    const sc = { ...this.podSc, ...(c.securityContext ?? {}) };
    if (sc.runAsUser === undefined) return undefined;
    const fsGroup: number | undefined = this.podSc.fsGroup;
    return { uid: sc.runAsUser, gid: sc.runAsGroup ?? sc.runAsUser, groups: fsGroup !== undefined ? [fsGroup] : [] };
  }

  private userOf(c: Obj): string | undefined {
    const sc = { ...this.podSc, ...(c.securityContext ?? {}) };
    return sc.runAsUser !== undefined ? `${sc.runAsUser}:${sc.runAsGroup ?? sc.runAsUser}` : undefined;
  }

  private async probe(c: Obj, p: Obj): Promise<{ ok: boolean; output: string }> {
    const timeoutMs = (p.timeoutSeconds ?? 1) * 1000;
    try {
      if (p.exec) {
        const st = this.containers.find((s) => s.name === c.name)!;
        const r = await this.exec(c, st.id, p.exec.command, timeoutMs);
        return { ok: r.code === 0, output: r.output.trim() };
      }
      const port = typeof p.httpGet.port === "number" ? p.httpGet.port : (c.ports ?? []).find((x: Obj) => x.name === p.httpGet.port)?.containerPort;
      if (!port) throw new Error(`httpGet port ${p.httpGet.port} is not a port of container ${c.name}`);
      const res = await fetch(`http://${this.ip}:${port}${p.httpGet.path ?? "/"}`, { signal: AbortSignal.timeout(timeoutMs) });
      return { ok: res.status >= 200 && res.status < 400, output: `HTTP ${res.status}` };
    } catch (e) {
      return { ok: false, output: (e as Error).message };
    }
  }

  /** Startup, liveness and readiness probes, and restarts on exit (restartPolicy Always) or failed probes. */
  private async supervise(c: Obj, st: ContainerStatus): Promise<void> {
    const always = (this.args.spec.restartPolicy ?? "Always") === "Always";
    let backoffMs = 0;
    for (let generation = 0; !this.stopped; generation++) {
      const exited = this.env.docker.getContainer(st.id).wait().then((r: { StatusCode: number }) => r.StatusCode, () => -1);
      let exitCode: number | undefined;
      exited.then((code) => (exitCode = code));
      const outcome = await this.runProbes(c, st, () => exitCode !== undefined);
      if (this.stopped) return;
      const code = await exited;
      st.ready = false;
      st.started = false;
      st.exitCode = code;
      st.logTail = await this.logs(c.name).catch(() => "");
      st.terminationMessage = this.terminationMessage(c, st, code);
      if (!always) {
        this.phase = code === 0 ? "Succeeded" : "Failed";
        this.event(`container ${c.name} exited ${code}`);
        return;
      }
      // CrashLoopBackOff: the first restart at once, then 10 s doubling up to 5 min.
      this.event(`container ${c.name} ${outcome === "liveness" ? "killed after failed liveness/startup probe" : `exited ${code}`}; restart ${st.restarts + 1} in ${backoffMs / 1000} s`);
      for (const until = Date.now() + backoffMs; Date.now() < until && !this.stopped; ) await sleep(200);
      if (this.stopped) return;
      backoffMs = backoffMs === 0 ? 10_000 : Math.min(300_000, backoffMs * 2);
      st.restarts++;
      try {
        await this.env.docker.getContainer(st.id).start();
      } catch (e) {
        this.event(`container ${c.name} restart failed: ${(e as Error).message}`);
      }
    }
  }

  /** Returns when the container exited ("exit") or was killed for a failed startup/liveness probe ("liveness"). */
  private async runProbes(c: Obj, st: ContainerStatus, exited: () => boolean): Promise<"exit" | "liveness" | "stopped"> {
    const wait = async (ms: number) => {
      for (const until = Date.now() + ms; Date.now() < until; ) {
        if (this.stopped) return false;
        if (exited()) return false;
        await sleep(Math.min(100, until - Date.now()));
      }
      return !this.stopped && !exited();
    };
    const kill = async (why: string) => {
      this.event(`container ${c.name}: ${why}`);
      await this.stopContainer(c, st, (this.args.spec.terminationGracePeriodSeconds ?? 30) * 1000);
      return "liveness" as const;
    };
    // Startup probe: liveness and readiness wait for it.
    const sp = c.startupProbe;
    if (sp) {
      if (!(await wait((sp.initialDelaySeconds ?? 0) * 1000))) return this.stopped ? "stopped" : "exit";
      for (let fails = 0; ; ) {
        const r = await this.probe(c, sp);
        if (this.stopped) return "stopped";
        if (r.ok) break;
        if (++fails >= (sp.failureThreshold ?? 3)) return kill(`startup probe failed ${fails} times: ${r.output}`);
        if (!(await wait((sp.periodSeconds ?? 10) * 1000))) return this.stopped ? "stopped" : "exit";
      }
    }
    st.started = true;
    const lp = c.livenessProbe;
    const rp = c.readinessProbe;
    if (!rp) st.ready = true;
    const start = Date.now();
    let nextL = start + (lp?.initialDelaySeconds ?? 0) * 1000;
    let nextR = start + (rp?.initialDelaySeconds ?? 0) * 1000;
    let lFails = 0;
    let rFails = 0;
    let rOks = 0;
    for (;;) {
      const next = Math.min(lp ? nextL : Infinity, rp ? nextR : Infinity);
      if (!(await wait(next === Infinity ? 1000 : Math.max(0, next - Date.now())))) return this.stopped ? "stopped" : "exit";
      const now = Date.now();
      if (lp && now >= nextL) {
        nextL = now + (lp.periodSeconds ?? 10) * 1000;
        const r = await this.probe(c, lp);
        if (this.stopped) return "stopped";
        lFails = r.ok ? 0 : lFails + 1;
        if (lFails >= (lp.failureThreshold ?? 3)) return kill(`liveness probe failed ${lFails} times: ${r.output}`);
      }
      if (rp && now >= nextR) {
        nextR = now + (rp.periodSeconds ?? 10) * 1000;
        const r = await this.probe(c, rp);
        if (this.stopped) return "stopped";
        if (r.ok) {
          rFails = 0;
          if (++rOks >= (rp.successThreshold ?? 1) && !st.ready) {
            st.ready = true;
            this.event(`container ${c.name} ready`);
          }
        } else {
          rOks = 0;
          if (++rFails >= (rp.failureThreshold ?? 3) && st.ready) {
            st.ready = false;
            this.event(`container ${c.name} not ready: ${r.output}`);
          }
          st.lastProbe = r.output;
        }
      }
    }
  }

  /** The kubelet's termination message: the file, else (FallbackToLogsOnError, failed) the last 80 lines of the log; 4 KiB at most. */
  private terminationMessage(c: Obj, st: ContainerStatus, code: number): string {
    let msg = "";
    try {
      msg = readFileSync(join(this.args.dir, `termination-log-${c.name}`), "utf8");
    } catch {
      /* none */
    }
    if (!msg && code !== 0 && c.terminationMessagePolicy === "FallbackToLogsOnError") msg = st.logTail ?? "";
    return msg.slice(-4096);
  }

  /** Last lines of a container's log (both streams). */
  async logs(container: string, lines = 80): Promise<string> {
    const st = this.containers.find((c) => c.name === container);
    if (!st) return "";
    const buf = (await this.env.docker.getContainer(st.id).logs({ stdout: true, stderr: true, tail: lines })) as unknown as Buffer;
    // Multiplexed frames: 8-byte headers before each chunk.
    const out: string[] = [];
    for (let i = 0; i + 8 <= buf.length; ) {
      const len = buf.readUInt32BE(i + 4);
      out.push(buf.subarray(i + 8, i + 8 + len).toString());
      i += 8 + len;
    }
    return out.join("");
  }

  private async stopContainer(c: Obj, st: ContainerStatus, graceMs: number): Promise<void> {
    const deadline = Date.now() + graceMs;
    const pre = c.lifecycle?.preStop?.exec?.command;
    if (pre) {
      const t = Date.now();
      const r = await execIn(this.env.docker, st.id, pre, this.userOf(c), graceMs).catch((e) => ({ code: -1, output: (e as Error).message }));
      this.event(`preStop of ${c.name} exit ${r.code} after ${((Date.now() - t) / 1000).toFixed(1)} s: ${r.output.trim().split("\n").slice(-3).join(" | ")}`);
    }
    const left = Math.max(0, Math.floor((deadline - Date.now()) / 1000));
    await this.env.docker.getContainer(st.id).stop({ t: left }).catch(() => undefined);
  }

  /** Kubelet eviction of a pod whose emptyDir grew past its sizeLimit (checked every 10 s). */
  private async watchEmptyDirs(): Promise<void> {
    while (!this.stopped) {
      for (let i = 0; i < 100 && !this.stopped; i++) await sleep(100);
      for (const e of this.emptyDirs) {
        if (e.limit && !this.stopped && dirBytes(e.dir) > e.limit) {
          this.reason = `Evicted: emptyDir ${e.dir} over its sizeLimit`;
          this.event(this.reason);
          this.phase = "Failed";
          return;
        }
      }
    }
  }

  /**
   * graceful: preStop then SIGTERM in every container, SIGKILL at the end of terminationGracePeriodSeconds (kubectl delete);
   * force/crash: SIGKILL at once, no preStop (kubectl delete --force --grace-period=0, a node that dies).
   */
  async delete(mode: "graceful" | "force" | "crash"): Promise<void> {
    if (this.deleting && mode === "graceful") return;
    this.deleting = true;
    const grace = (this.args.spec.terminationGracePeriodSeconds ?? 30) * 1000;
    const t = Date.now();
    if (mode === "graceful" && this.phase === "Running") {
      this.stopped = true;
      await Promise.all(this.args.spec.containers.map((c: Obj, i: number) => (this.containers[i] ? this.stopContainer(c, this.containers[i], grace) : undefined)));
    } else {
      this.stopped = true;
      await Promise.all(this.containers.map((st) => this.env.docker.getContainer(st.id).kill().catch(() => undefined)));
    }
    await Promise.allSettled(this.loops);
    for (const id of [...this.containers.map((c) => c.id), this.sandboxId].filter(Boolean)) {
      await this.env.docker.getContainer(id).remove({ force: true, v: true }).catch(() => undefined);
    }
    if (this.sandboxPid) this.env.sandboxGone?.(this, this.sandboxPid);
    this.sandboxPid = 0;
    rmSync(this.args.dir, { recursive: true, force: true });
    this.event(`deleted (${mode}) in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
}

