// Network namespaces for the chaos suite: every redis-server in its own namespace, linked by a veth pair to a bridge
// this process creates, addressed from a /24 of the benchmarking range 198.18.0.0/15 (RFC 2544) that exists only on
// that bridge. Partitions are iptables DROP rules inside the namespaces. Everything is named after this process
// (rcc-<pid>-<rand>), removed by teardown() — idempotent, called from finally blocks and process exit hooks — and
// leftovers of a dead earlier run are removed by cleanupStale(). Nothing here touches any other interface or address.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

const PREFIX = "rcc";
/** The last two characters of a lab's id: random for the first lab of a process, then counted (unique within it). */
let nextSeq = randomBytes(1)[0];

function run(cmd: string, args: string[], check = true): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 15_000 });
  const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim();
  const ok = !r.error && r.status === 0;
  if (check && !ok) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.error?.message ?? out}`);
  return { ok, out };
}

/** Fails with what to do when the tools or privileges are missing (never a silent skip). */
export function requireNetAdmin(): void {
  for (const [bin, pkg] of [["ip", "iproute2"], ["iptables", "iptables"]] as const) {
    const r = spawnSync(bin, ["-V"], { encoding: "utf8" });
    if (r.error) throw new Error(`${bin} is not installed (Debian: apt-get install ${pkg})`);
  }
  if (process.getuid?.() !== 0) throw new Error("the chaos suite creates network namespaces and iptables rules: run it as root");
}

const pidAlive = (pid: number) => {
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
};

export class NetLab {
  /** <pid base36><2 hex of nextSeq>: short enough for 15-character interface names, unique among live processes' labs. */
  readonly id: string;
  readonly bridge: string;
  /** Chosen at construction; create() moves to another /24 if a lab made at the same moment took the same one. */
  subnet!: string;
  hostIp!: string;
  nodeIps!: string[];
  private readonly created = { bridge: false, forward: false, ns: [] as string[] };
  private torn = false;

  /** `third`: start from 198.18.<third>.0/24 rather than a free one chosen at random (a test of the clash). */
  constructor(readonly size: number, third?: number) {
    if (size < 1 || size > 200) throw new Error(`NetLab: 1..200 nodes, got ${size}`);
    this.id = process.pid.toString(36) + (nextSeq++ % 256).toString(16).padStart(2, "0");
    this.bridge = `${PREFIX}b${this.id}`;
    this.use(third ?? NetLab.freeThirdOctet());
  }

  private use(third: number): void {
    this.subnet = `198.18.${third}.0/24`;
    this.hostIp = `198.18.${third}.1`;
    this.nodeIps = Array.from({ length: this.size }, (_, i) => `198.18.${third}.${10 + i}`);
  }

  /** Another interface with an address of this lab's /24 (a lab that chose the same one between our choice and our address). */
  private clash(): boolean {
    const prefix = this.hostIp.slice(0, this.hostIp.lastIndexOf(".") + 1);
    return run("ip", ["-4", "-o", "addr"]).out.split("\n").some((l) => l.includes(` inet ${prefix}`) && !new RegExp(`^\\d+: ${this.bridge}\\s`).test(l));
  }

  /** A 198.18.X.0/24 that no interface or route on this host uses yet. */
  private static freeThirdOctet(): number {
    const used = run("ip", ["-4", "-o", "addr"]).out + "\n" + run("ip", ["-4", "route", "show", "table", "all"], false).out;
    if (/198\.1[89]\.0\.0\/15|198\.16\.0\.0\/1[2-4]/.test(used)) throw new Error("198.18.0.0/15 is routed on this host; the chaos suite will not share it");
    for (let k = 0; k < 256; k++) {
      const third = (Number.parseInt(randomBytes(1).toString("hex"), 16) + k) % 256;
      if (!used.includes(`198.18.${third}.`)) return third;
    }
    throw new Error("no free /24 in 198.18.0.0/16");
  }

  ns(i: number): string {
    return `${PREFIX}-${this.id}-n${i}`;
  }
  private vethHost(i: number): string {
    return `${PREFIX}${this.id}h${i}`;
  }
  private get forwardRule(): string[] {
    return ["FORWARD", "-i", this.bridge, "-o", this.bridge, "-m", "comment", "--comment", `${PREFIX}-${this.id}`, "-j", "ACCEPT"];
  }

  /** Command prefix that runs a process inside node i's namespace (ip execs it: the pid stays the process's own). */
  wrap(i: number): string[] {
    return ["ip", "netns", "exec", this.ns(i)];
  }

  create(): void {
    run("ip", ["link", "add", this.bridge, "type", "bridge"]);
    this.created.bridge = true;
    // The choice and the address are not one step: another lab may have taken the same /24 in between. Whoever
    // sees the other after adding its own moves (bounded).
    for (let attempt = 1; ; attempt++) {
      run("ip", ["addr", "add", `${this.hostIp}/24`, "dev", this.bridge]);
      if (!this.clash()) break;
      run("ip", ["addr", "del", `${this.hostIp}/24`, "dev", this.bridge], false);
      if (attempt === 8) throw new Error(`NetLab: ${this.subnet} was taken by another lab 8 times in a row`);
      this.use(NetLab.freeThirdOctet());
    }
    run("ip", ["link", "set", this.bridge, "up"]);
    // With br_netfilter, bridged frames pass the host's FORWARD chain (Docker sets its policy to DROP): let ours through.
    run("iptables", ["-I", ...this.forwardRule]);
    this.created.forward = true;
    for (let i = 0; i < this.size; i++) {
      const ns = this.ns(i);
      run("ip", ["netns", "add", ns]);
      this.created.ns.push(ns);
      const tmp = `${PREFIX}${this.id}p${i}`;
      run("ip", ["link", "add", this.vethHost(i), "type", "veth", "peer", "name", tmp]);
      run("ip", ["link", "set", tmp, "netns", ns]);
      run("ip", ["link", "set", this.vethHost(i), "master", this.bridge]);
      run("ip", ["link", "set", this.vethHost(i), "up"]);
      const inNs = (...a: string[]) => run("ip", ["netns", "exec", ns, ...a]);
      inNs("ip", "link", "set", tmp, "name", "eth0");
      inNs("ip", "addr", "add", `${this.nodeIps[i]}/24`, "dev", "eth0");
      inNs("ip", "link", "set", "eth0", "up");
      inNs("ip", "link", "set", "lo", "up");
    }
  }

  /** Drops every packet between node i and `peers` (addresses), both directions, inside node i's namespace. */
  cut(i: number, peers: string[]): void {
    for (const p of peers) {
      run("ip", ["netns", "exec", this.ns(i), "iptables", "-A", "INPUT", "-s", p, "-j", "DROP"]);
      run("ip", ["netns", "exec", this.ns(i), "iptables", "-A", "OUTPUT", "-d", p, "-j", "DROP"]);
    }
  }

  /** Removes node i's DROP rules. */
  heal(i: number): void {
    run("ip", ["netns", "exec", this.ns(i), "iptables", "-F", "INPUT"]);
    run("ip", ["netns", "exec", this.ns(i), "iptables", "-F", "OUTPUT"]);
  }

  healAll(): void {
    for (let i = 0; i < this.size; i++) this.heal(i);
  }

  /**
   * Removes the namespaces (their veths and iptables rules go with them once no process is left inside), the bridge
   * and the FORWARD rule. Never throws; returns what could not be removed.
   */
  teardown(): string[] {
    if (this.torn) return [];
    this.torn = true;
    const failed: string[] = [];
    for (const ns of this.created.ns) if (!run("ip", ["netns", "del", ns], false).ok) failed.push(`netns ${ns}`);
    for (let i = 0; i < this.size; i++) run("ip", ["link", "del", this.vethHost(i)], false); // usually gone already
    if (this.created.bridge && !run("ip", ["link", "del", this.bridge], false).ok) failed.push(`bridge ${this.bridge}`);
    if (this.created.forward && !run("iptables", ["-D", ...this.forwardRule], false).ok) failed.push("iptables FORWARD rule");
    return failed;
  }

  /** What of this lab still exists (for tests: must be empty after teardown). */
  leftovers(): string[] {
    const out: string[] = [];
    const nss = run("ip", ["netns", "list"], false).out;
    for (let i = 0; i < this.size; i++) if (nss.includes(this.ns(i))) out.push(`netns ${this.ns(i)}`);
    const links = run("ip", ["-o", "link"], false).out;
    if (links.includes(`${PREFIX}b${this.id}`) || links.includes(`${PREFIX}${this.id}h`)) out.push("links");
    if (run("iptables", ["-S", "FORWARD"], false).out.includes(`${PREFIX}-${this.id}`)) out.push("iptables rule");
    return out;
  }

  /** Removes namespaces, bridges and rules of earlier runs whose process is gone (e.g. killed with SIGKILL). */
  static cleanupStale(): string[] {
    const removed: string[] = [];
    const deadId = (id: string) => !pidAlive(Number.parseInt(id.slice(0, -2), 36));
    for (const line of run("ip", ["netns", "list"], false).out.split("\n")) {
      const m = new RegExp(`^(${PREFIX}-([0-9a-z]+)-n\\d+)`).exec(line);
      if (m && deadId(m[2]) && run("ip", ["netns", "del", m[1]], false).ok) removed.push(m[1]);
    }
    for (const line of run("ip", ["-o", "link"], false).out.split("\n")) {
      const m = new RegExp(`^\\d+: (${PREFIX}b([0-9a-z]+))[:@]`).exec(line);
      if (m && deadId(m[2]) && run("ip", ["link", "del", m[1]], false).ok) removed.push(m[1]);
    }
    for (const line of run("iptables", ["-S", "FORWARD"], false).out.split("\n")) {
      const m = new RegExp(`--comment "?${PREFIX}-([0-9a-z]+)"?`).exec(line);
      if (m && line.startsWith("-A ") && deadId(m[1])) {
        const spec = line.slice(3).replace(/"/g, "").split(" ");
        if (run("iptables", ["-D", ...spec], false).ok) removed.push(`iptables ${line}`);
      }
    }
    return removed;
  }
}
