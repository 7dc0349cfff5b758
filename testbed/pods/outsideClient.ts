// A client outside the Kubernetes cluster: a network namespace of its own whose one link leads to the load balancer
// node (./loadBalancer.ts), which forwards only what a LoadBalancer Service DNATs — so the pods are reachable only
// through the emulated load balancers. Its DNS is the external zone (what external-dns publishes from the Services'
// hostname annotation): /etc/netns/<name>/hosts, which `ip netns exec` puts in place of /etc/hosts, beside a
// resolv.conf pointing at nothing, so a name not published does not resolve (the cluster DNS's files, ./dns.ts).
// Commands run in it through run(); everything it started and the namespace go in stop(), or at the process's exit.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ClusterDns } from "./dns";

/** The "internet" between the outside client and the load balancer node (TEST-NET-2): node .1, client .2. */
export const OUTSIDE_NET = { node: "198.51.100.1", client: "198.51.100.2", cidr: "198.51.100.0/24" };

const sh = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  if (r.status !== 0) throw new Error(`outside client: ${cmd} ${args.join(" ")} failed: ${(r.stderr || r.error?.message || "").trim()}`);
  return r.stdout;
};

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class OutsideClient {
  /** Its address: what the load balancers and the pods see as source (externalTrafficPolicy Local). */
  readonly ip = OUTSIDE_NET.client;
  private readonly children = new Set<ChildProcess>();
  private dns?: ClusterDns;
  private readonly exitHook = () => this.removeSync();

  private constructor(readonly netns: string, private readonly log: (l: string) => void) {}

  /** Creates the namespace (loopback up, no other link yet) and its DNS files. */
  static create(log: (l: string) => void): OutsideClient {
    const c = new OutsideClient(`rc-out-${randomBytes(3).toString("hex")}`, log);
    process.on("exit", c.exitHook);
    try {
      sh("ip", ["netns", "add", c.netns]);
      sh("ip", ["-n", c.netns, "link", "set", "lo", "up"]);
      mkdirSync(join("/etc/netns", c.netns), { recursive: true });
      c.dns = new ClusterDns(join("/etc/netns", c.netns));
    } catch (e) {
      c.removeSync();
      throw e;
    }
    return c;
  }

  /** The external zone as published now ([ip, name]); written in place, so running clients see it at their next lookup. */
  publish(records: [ip: string, name: string][]): void {
    this.dns?.publish(records);
  }

  /** Runs `cmd` in the namespace (its DNS files in place); killed after `timeoutMs`. Never throws on a non-zero exit. */
  run(cmd: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs: number; cwd?: string }): Promise<RunResult> {
    return new Promise((ok, fail) => {
      const p = spawn("ip", ["netns", "exec", this.netns, ...cmd], { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"], detached: true });
      this.children.add(p);
      let stdout = "";
      let stderr = "";
      p.stdout!.on("data", (d) => (stdout += d));
      p.stderr!.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => {
        stderr += `\n(outside client: killed after ${opts.timeoutMs} ms)`;
        this.kill(p);
      }, opts.timeoutMs);
      p.on("error", (e) => {
        clearTimeout(timer);
        this.children.delete(p);
        fail(e);
      });
      p.on("close", (code, signal) => {
        clearTimeout(timer);
        this.children.delete(p);
        ok({ code: code ?? (signal ? 128 : 1), stdout, stderr });
      });
    });
  }

  /** A TCP connection to host:port from the namespace: "open", "refused" (reset) or "timeout" (dropped) within `timeoutMs`. */
  async connect(host: string, port: number, timeoutMs = 3000): Promise<"open" | "refused" | "timeout"> {
    const s = Math.max(1, Math.ceil(timeoutMs / 1000));
    const r = await this.run(["timeout", String(s), "bash", "-c", `exec 3<>/dev/tcp/${host}/${port}`], { timeoutMs: timeoutMs + 5000 });
    return r.code === 0 ? "open" : r.code === 124 ? "timeout" : "refused";
  }

  private kill(p: ChildProcess): void {
    try {
      if (p.pid) process.kill(-p.pid, "SIGKILL");
    } catch {
      /* already gone */
    }
  }

  /** Kills what it started and removes the namespace and its files; returns what is left (nothing, normally). */
  async stop(): Promise<string[]> {
    for (const p of this.children) this.kill(p);
    for (let i = 0; i < 50 && this.children.size > 0; i++) await new Promise((ok) => setTimeout(ok, 100));
    this.removeSync();
    process.off("exit", this.exitHook);
    return this.leftovers();
  }

  /** The namespace or its files, if still there. */
  leftovers(): string[] {
    const out: string[] = [];
    if (spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.split("\n").some((l) => l.split(" ")[0] === this.netns)) out.push(`netns ${this.netns}`);
    if (existsSync(join("/etc/netns", this.netns))) out.push(`/etc/netns/${this.netns}`);
    return out;
  }

  private removeSync(): void {
    // Processes still in it (a command that outlived its kill) would keep the namespace alive after `ip netns del`.
    const pids = spawnSync("ip", ["netns", "pids", this.netns], { encoding: "utf8" }).stdout ?? "";
    for (const pid of pids.split("\n").filter(Boolean)) {
      try {
        process.kill(Number(pid), "SIGKILL");
      } catch {
        /* gone */
      }
    }
    const r = spawnSync("ip", ["netns", "del", this.netns], { encoding: "utf8" });
    if (r.status !== 0 && !/No such file/.test(r.stderr)) this.log(`outside client: ip netns del ${this.netns}: ${r.stderr.trim()}`);
    rmSync(join("/etc/netns", this.netns), { recursive: true, force: true });
  }
}
