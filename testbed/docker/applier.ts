// Applies the resources the Pulumi program registers to a real Docker engine, the way @pulumi/docker (and
// @pulumi/command for the smoke step) would: Network, Volume, RemoteImage (local images only: never a pull),
// Container and local.Command. Every input argument it does not implement makes it fail, so a new argument in the
// program cannot pass unnoticed. Destroy removes in reverse order of creation.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import type Docker from "dockerode";
import { pack } from "tar-stream";
import { sleep } from "../../smoke/time";
import { Unemulated, refuseUnknown } from "../refuse";
import { applyTls, TLS_TYPES } from "../tlsProvider";
import { randomPassword } from "../randomPassword";

export const TYPES = {
  network: "docker:index/network:Network",
  volume: "docker:index/volume:Volume",
  image: "docker:index/remoteImage:RemoteImage",
  container: "docker:index/container:Container",
  command: "command:local:Command",
  password: "random:index/randomPassword:RandomPassword",
  // @pulumi/tls (tls.enabled): keys and certificates made for real by testbed/tlsProvider.ts (openssl).
  tlsPrivateKey: "tls:index/privateKey:PrivateKey",
  tlsSelfSignedCert: "tls:index/selfSignedCert:SelfSignedCert",
  tlsCertRequest: "tls:index/certRequest:CertRequest",
  tlsLocallySignedCert: "tls:index/locallySignedCert:LocallySignedCert",
} as const;
const isTls = (type: string) => TLS_TYPES.includes(type);

/** One applied resource, as kept in the applier's state. */
export interface Applied {
  type: string;
  name: string;
  id: string;
  /** Inputs with secrets unwrapped (the state file is private to the run). */
  inputs: Record<string, any>;
  inputsHash: string;
  outputs: Record<string, any>;
}

/** Unwraps Pulumi's serialized secrets and output values ({sig, value}) anywhere in a value. */
export function plain(v: any): any {
  if (Array.isArray(v)) return v.map(plain);
  if (v && typeof v === "object") {
    // Pulumi's signature key: secrets and output values carry the plain value in `value`.
    if ("4dabf18193072939515e22adb298388d" in v) return plain(v.value);
    return Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).map(([k, x]) => [k, plain(x)]));
  }
  return v;
}

const stableJson = (v: any): string =>
  Array.isArray(v)
    ? `[${v.map(stableJson).join(",")}]`
    : v && typeof v === "object"
      ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`).join(",")}}`
      : JSON.stringify(v);
export const hashInputs = (inputs: Record<string, any>) => createHash("sha256").update(stableJson(inputs)).digest("hex");

/** Who refuses an argument it does not implement (testbed/refuse.ts). */
const APPLIER = "Docker applier";

/** Docker's duration strings ("2s", "1m30s", "500ms") in nanoseconds. */
export function durationNs(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const re = /(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)/gy;
  const unit: Record<string, number> = { ns: 1, us: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(s))) {
    total += Number(m[1]) * unit[m[2]];
    end = re.lastIndex;
  }
  if (end !== s.length || s.length === 0) throw new Error(`applier: '${s}' is not a duration`);
  return Math.round(total);
}

function numericId(what: string, v: string | undefined): number {
  if (v === undefined) return 0;
  // The provider resolves names in the host's user database; only numbers mean the same inside every image.
  if (!/^\d+$/.test(v)) throw new Error(`applier: ${what} '${v}' is not numeric; names are resolved on the Pulumi host, not in the image`);
  return Number(v);
}

const NETWORK_KEYS = ["name", "driver", "attachable", "ipamConfigs"] as const;
const IPAM_KEYS = ["subnet", "gateway", "ipRange"] as const;
const VOLUME_KEYS = ["name"] as const;
const IMAGE_KEYS = ["name", "keepLocally"] as const;
const CONTAINER_KEYS = [
  "name", "hostname", "image", "user", "entrypoints", "command", "envs", "uploads", "networksAdvanced", "ports", "volumes",
  "healthcheck", "restart", "wait", "waitTimeout", "mustRun", "attach", "logs", "destroyGraceSeconds", "start", "removeVolumes", "networkMode",
] as const;
const UPLOAD_KEYS = ["file", "content", "contentBase64", "executable", "owner", "group", "permissions"] as const;
const NET_ADV_KEYS = ["name", "ipv4Address", "aliases"] as const;
const PORT_KEYS = ["internal", "external", "ip", "protocol"] as const;
const VOLUME_MOUNT_KEYS = ["volumeName", "containerPath", "readOnly"] as const;
const HEALTH_KEYS = ["tests", "interval", "timeout", "startPeriod", "retries"] as const;
const PASSWORD_KEYS = ["length", "special"] as const;
const COMMAND_KEYS = ["create", "dir", "environment", "triggers", "logging", "delete"] as const;

export interface ApplierOptions {
  /** Progress lines (never secrets). */
  log?: (line: string) => void;
  /** Bound of one local.Command run (the program's customTimeouts are not visible here). */
  commandTimeoutMs?: number;
  /** Streams a local.Command's output lines as they come. */
  commandOutput?: (line: string) => void;
}

/** Creates and deletes the program's docker:* and command:local:* resources on one engine. */
export class DockerApplier {
  readonly log: (line: string) => void;
  constructor(readonly docker: Docker, readonly opts: ApplierOptions = {}) {
    this.log = opts.log ?? (() => undefined);
  }

  /** Checks every argument first, then creates; returns the provider-like id and outputs. */
  async create(type: string, name: string, rawInputs: Record<string, any>): Promise<Applied> {
    const inputs = plain(rawInputs) as Record<string, any>;
    const t0 = Date.now();
    let id: string;
    let outputs: Record<string, any>;
    switch (type) {
      case TYPES.network:
        ({ id, outputs } = await this.createNetwork(inputs));
        break;
      case TYPES.volume:
        ({ id, outputs } = await this.createVolume(inputs));
        break;
      case TYPES.image:
        ({ id, outputs } = await this.resolveImage(inputs));
        break;
      case TYPES.container:
        ({ id, outputs } = await this.createContainer(inputs));
        break;
      case TYPES.command:
        ({ id, outputs } = await this.runCommand(name, inputs));
        break;
      case TYPES.password: {
        // @pulumi/random's RandomPassword as the dev program uses it: letters and digits only (special: false).
        refuseUnknown(APPLIER, "RandomPassword", inputs, PASSWORD_KEYS);
        if (inputs.special !== false) throw new Error("applier: RandomPassword is implemented for special: false only");
        ({ id, outputs } = { id: "none", outputs: { result: randomPassword(inputs as { length: number; special: false }) } });
        break;
      }
      default:
        if (!isTls(type)) throw new Unemulated(`applier: resource type ${type} (${name}) is not implemented`);
        ({ id, outputs } = await applyTls({ type, name, inputs }));
    }
    this.log(`created ${type.split(":").pop()} ${name} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { type, name, id, inputs, inputsHash: hashInputs(inputs), outputs: { ...inputs, ...outputs } };
  }

  /**
   * An in-place update, where the provider has one: local.Command runs its `create` again (pulumi-command does when no
   * `update` command is given) and keeps its id; a TLS resource whose only change the provider applies in place
   * (earlyRenewalHours) keeps its key or certificate. Anything else is refused.
   */
  async update(old: Applied, rawInputs: Record<string, any>): Promise<Applied> {
    const inputs = plain(rawInputs) as Record<string, any>;
    let outputs: Record<string, any>;
    let id = old.id;
    if (old.type === TYPES.command) {
      ({ outputs } = await this.runCommand(old.name, inputs));
    } else if (isTls(old.type)) {
      ({ id, outputs } = await applyTls({ type: old.type, name: old.name, inputs, prior: { id: old.id, outputs: old.outputs } }));
    } else {
      throw new Unemulated(`applier: in-place update of ${old.type} ${old.name} is not implemented`);
    }
    this.log(`updated ${old.type.split(":").pop()} ${old.name}`);
    return { type: old.type, name: old.name, id, inputs, inputsHash: hashInputs(inputs), outputs: { ...inputs, ...outputs } };
  }

  async delete(r: Applied): Promise<void> {
    switch (r.type) {
      case TYPES.network:
        // A clean-clone run once saw "has active endpoints" right after the stack's last container was removed, and not
        // on re-runs: a short bounded wait for Docker's endpoint cleanup, then the error stands (a container really left).
        for (let attempt = 1; ; attempt++) {
          try {
            await ignoreMissing(this.docker.getNetwork(r.id).remove());
            break;
          } catch (e) {
            if (attempt >= 20 || !/has active endpoints/.test(String((e as Error).message))) throw e;
            await sleep(250);
          }
        }
        break;
      case TYPES.volume:
        await ignoreMissing(this.docker.getVolume(r.id).remove());
        break;
      case TYPES.image:
        if (r.inputs.keepLocally !== true) await ignoreMissing(this.docker.getImage(r.id).remove());
        break;
      case TYPES.container: {
        const c = this.docker.getContainer(r.id);
        // Like the provider: stop with the grace period first (not for attached one-shots), then force-remove.
        if (!r.inputs.attach && (r.inputs.destroyGraceSeconds ?? 0) > 0) await ignoreMissing(c.stop({ t: r.inputs.destroyGraceSeconds }), true);
        await ignoreMissing(c.remove({ force: true, v: r.inputs.removeVolumes ?? true }));
        break;
      }
      case TYPES.password:
      case TYPES.tlsPrivateKey:
      case TYPES.tlsSelfSignedCert:
      case TYPES.tlsCertRequest:
      case TYPES.tlsLocallySignedCert:
        // Like the providers: nothing outside the state to delete.
        break;
      case TYPES.command:
        if (r.inputs.delete) await this.runShell(r.name, r.inputs.delete, r.inputs);
        break;
      default:
        throw new Error(`applier: cannot delete ${r.type} ${r.name}`);
    }
    this.log(`deleted ${r.type.split(":").pop()} ${r.name}`);
  }

  private async createNetwork(i: Record<string, any>) {
    refuseUnknown(APPLIER, "Network", i, NETWORK_KEYS);
    for (const c of i.ipamConfigs ?? []) refuseUnknown(APPLIER, "Network.ipamConfigs", c, IPAM_KEYS);
    const net = await this.docker.createNetwork({
      Name: i.name,
      Driver: i.driver ?? "bridge",
      Attachable: i.attachable ?? false,
      CheckDuplicate: true,
      IPAM: { Driver: "default", Config: (i.ipamConfigs ?? []).map((c: any) => ({ Subnet: c.subnet, Gateway: c.gateway, IPRange: c.ipRange })) },
    });
    return { id: net.id, outputs: { name: i.name } };
  }

  private async createVolume(i: Record<string, any>) {
    refuseUnknown(APPLIER, "Volume", i, VOLUME_KEYS);
    // dockerode resolves to a Volume handle, not the API's answer: inspect for the name and mountpoint.
    const v = (await (await this.docker.createVolume({ Name: i.name })).inspect()) as { Name: string; Mountpoint: string };
    return { id: v.Name, outputs: { name: v.Name, mountpoint: v.Mountpoint, driver: "local" } };
  }

  private async resolveImage(i: Record<string, any>) {
    refuseUnknown(APPLIER, "RemoteImage", i, IMAGE_KEYS);
    let info: Docker.ImageInspectInfo;
    try {
      info = await this.docker.getImage(i.name).inspect();
    } catch {
      throw new Error(`applier: image '${i.name}' is not in the engine; no registry is reachable, so it is never pulled (build the stand-ins: testbed/docker/images.ts)`);
    }
    return { id: info.Id, outputs: { imageId: info.Id, repoDigest: info.RepoDigests?.[0] ?? "" } };
  }

  private async createContainer(i: Record<string, any>) {
    refuseUnknown(APPLIER, `Container ${i.name}`, i, CONTAINER_KEYS);
    for (const u of i.uploads ?? []) refuseUnknown(APPLIER, `Container ${i.name} uploads`, u, UPLOAD_KEYS);
    for (const n of i.networksAdvanced ?? []) refuseUnknown(APPLIER, `Container ${i.name} networksAdvanced`, n, NET_ADV_KEYS);
    for (const p of i.ports ?? []) refuseUnknown(APPLIER, `Container ${i.name} ports`, p, PORT_KEYS);
    for (const v of i.volumes ?? []) refuseUnknown(APPLIER, `Container ${i.name} volumes`, v, VOLUME_MOUNT_KEYS);
    refuseUnknown(APPLIER, `Container ${i.name} healthcheck`, i.healthcheck, HEALTH_KEYS);
    const restart = i.restart ?? "no";
    if (!["no", "on-failure", "always", "unless-stopped"].includes(restart)) throw new Error(`applier: restart '${restart}' is not a Docker restart policy`);
    for (const u of i.uploads ?? []) {
      if ([u.content, u.contentBase64].filter((x) => x !== undefined).length !== 1) {
        throw new Error(`applier: upload ${u.file} needs exactly one of content, contentBase64`);
      }
    }

    const exposed: Record<string, {}> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of i.ports ?? []) {
      const key = `${p.internal}/${p.protocol ?? "tcp"}`;
      exposed[key] = {};
      (bindings[key] ??= []).push({ HostIp: p.ip ?? "0.0.0.0", HostPort: p.external === undefined ? "" : String(p.external) });
    }
    const [firstNet, ...otherNets] = (i.networksAdvanced ?? []) as { name: string; ipv4Address?: string; aliases?: string[] }[];
    const endpoint = (n: { ipv4Address?: string; aliases?: string[] }) => ({
      Aliases: n.aliases,
      IPAMConfig: n.ipv4Address ? { IPv4Address: n.ipv4Address } : undefined,
    });
    const hc = i.healthcheck;
    const created = await this.docker.createContainer({
      name: i.name,
      Image: i.image,
      Hostname: i.hostname,
      User: i.user,
      Entrypoint: i.entrypoints,
      Cmd: i.command,
      Env: i.envs,
      ExposedPorts: exposed,
      Healthcheck: hc
        ? { Test: hc.tests, Interval: durationNs(hc.interval), Timeout: durationNs(hc.timeout), StartPeriod: durationNs(hc.startPeriod), Retries: hc.retries }
        : undefined,
      HostConfig: {
        Binds: (i.volumes ?? []).map((v: any) => `${v.volumeName}:${v.containerPath}${v.readOnly ? ":ro" : ""}`),
        PortBindings: bindings,
        RestartPolicy: { Name: restart },
        // Without networksAdvanced the daemon's default network; this engine has no default bridge, so "none".
        NetworkMode: firstNet ? firstNet.name : (i.networkMode ?? "none"),
      },
      NetworkingConfig: firstNet ? { EndpointsConfig: { [firstNet.name]: endpoint(firstNet) } } : undefined,
    });
    const c = this.docker.getContainer(created.id);
    try {
      return await this.finishContainer(c, created.id, i, otherNets, endpoint);
    } catch (e) {
      // The step failed: no half-made container keeps the fixed name from the next attempt (its log is in the error).
      await ignoreMissing(c.remove({ force: true, v: true }));
      throw e;
    }
  }

  private async finishContainer(
    c: Docker.Container,
    id: string,
    i: Record<string, any>,
    otherNets: { name: string; ipv4Address?: string; aliases?: string[] }[],
    endpoint: (n: { ipv4Address?: string; aliases?: string[] }) => object,
  ): Promise<{ id: string; outputs: Record<string, any> }> {
    for (const n of otherNets) await this.docker.getNetwork(n.name).connect({ Container: id, EndpointConfig: endpoint(n) });

    // Uploads go in before the start, as the provider does: one tar entry per file, extracted at "/".
    for (const u of i.uploads ?? []) {
      const body = u.content !== undefined ? Buffer.from(u.content, "utf8") : Buffer.from(u.contentBase64, "base64");
      const mode = u.permissions !== undefined ? parseInt(u.permissions, 8) : u.executable ? 0o744 : 0o644;
      const tar = pack();
      tar.entry({ name: u.file.replace(/^\/+/, ""), mode, uid: numericId("owner", u.owner), gid: numericId("group", u.group), size: body.length }, body);
      tar.finalize();
      const buf = await streamToBuffer(tar as unknown as NodeJS.ReadableStream);
      await c.putArchive(buf, { path: "/" });
    }

    const outputs: Record<string, any> = {};
    if (i.start === false) return { id: id, outputs };
    const startedAt = Date.now();
    await c.start();

    if (i.attach) {
      // Waits for the one-shot to stop; a non-zero exit does not fail the resource (the provider records exitCode).
      const res = (await c.wait()) as { StatusCode: number };
      outputs.exitCode = res.StatusCode;
      if (i.logs) outputs.containerLogs = await containerLogs(c);
    } else if (i.wait) {
      await this.waitHealthy(c, i.name, (i.waitTimeout ?? 60) * 1000);
    }
    const info = await c.inspect();
    if (!info.State.Running && (i.mustRun ?? true)) {
      const logs = await containerLogs(c);
      await c.remove({ force: true });
      throw new Error(`container ${i.name} is not running (exit ${info.State.ExitCode}) and mustRun is true:\n${tail(logs)}`);
    }
    if (!info.State.Running) outputs.exitCode = info.State.ExitCode;
    outputs.networkData = Object.entries(info.NetworkSettings.Networks).map(([network, s]) => ({ networkName: network, ipAddress: s.IPAddress, gateway: s.Gateway }));
    this.log(`container ${i.name} ${info.State.Running ? `running after ${((Date.now() - startedAt) / 1000).toFixed(1)} s` : `exited ${info.State.ExitCode}`}`);
    return { id: id, outputs };
  }

  /** `wait: true`: the provider waits until the container reports healthy, and fails when it does not in time. */
  private async waitHealthy(c: Docker.Container, name: string, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const info = await c.inspect();
      const health = info.State.Health;
      if (!health) throw new Error(`container ${name}: wait is set but the container has no healthcheck`);
      if (health.Status === "healthy") return;
      if (!info.State.Running || health.Status === "unhealthy" || Date.now() > until) {
        const last = health.Log?.slice(-2).map((l) => `exit ${l.ExitCode}: ${l.Output.trim()}`).join("\n");
        const logs = await containerLogs(c);
        throw new Error(
          `container ${name} did not become healthy within ${timeoutMs / 1000} s (state ${info.State.Status}, health ${health.Status}).\n` +
            `last healthchecks:\n${last || "(none)"}\ncontainer log:\n${tail(logs)}`,
        );
      }
      await sleep(250);
    }
  }

  /** pulumi-command's local.Command: `/bin/sh -c create` on the host, in `dir`, with the provider's environment plus `environment`. */
  private async runCommand(name: string, i: Record<string, any>) {
    refuseUnknown(APPLIER, `Command ${name}`, i, COMMAND_KEYS);
    if (typeof i.create !== "string") throw new Error(`applier: Command ${name} has no create command`);
    const { stdout, stderr } = await this.runShell(name, i.create, i);
    return { id: `${name}-${Date.now()}`, outputs: { stdout, stderr } };
  }

  private runShell(name: string, script: string, i: Record<string, any>): Promise<{ stdout: string; stderr: string }> {
    const timeoutMs = this.opts.commandTimeoutMs ?? 600_000;
    return new Promise((resolve, reject) => {
      const child = spawn("/bin/sh", ["-c", script], { cwd: i.dir, env: { ...process.env, ...(i.environment ?? {}) }, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      const relay = (chunk: Buffer) => chunk.toString().split("\n").filter(Boolean).forEach((l) => this.opts.commandOutput?.(l));
      child.stdout.on("data", (d: Buffer) => ((stdout += d), relay(d)));
      child.stderr.on("data", (d: Buffer) => ((stderr += d), relay(d)));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.once("error", (e) => (clearTimeout(timer), reject(e)));
      child.once("close", (code, sig) => {
        clearTimeout(timer);
        const out = { stdout: stdout.replace(/\n$/, ""), stderr: stderr.replace(/\n$/, "") };
        if (code === 0) resolve(out);
        else reject(new Error(`Command ${name} failed (exit ${code ?? sig}${sig === "SIGKILL" ? `, killed after ${timeoutMs} ms` : ""}):\n${tail(stdout + stderr, 40)}`));
      });
    });
  }
}

async function ignoreMissing<T>(p: Promise<T>, alsoNotModified = false): Promise<void> {
  try {
    await p;
  } catch (e) {
    const code = (e as { statusCode?: number }).statusCode;
    if (code === 404 || (alsoNotModified && code === 304)) return;
    throw e;
  }
}

function streamToBuffer(s: NodeJS.ReadableStream): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    s.on("data", (d: Buffer) => parts.push(d));
    s.once("end", () => resolve(Buffer.concat(parts)));
    s.once("error", reject);
  });
}

/** stdout and stderr of a container: a non-TTY container's log is framed (8-byte header: stream, 0, 0, 0, size). */
export async function containerLogs(c: Docker.Container): Promise<string> {
  const raw = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  let text = "";
  for (let off = 0; off + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(off + 4);
    text += raw.subarray(off + 8, off + 8 + size).toString("utf8");
    off += 8 + size;
  }
  return text;
}

const tail = (s: string, n = 25) => s.trim().split("\n").slice(-n).join("\n");
