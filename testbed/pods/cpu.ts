// CPU used by one pods run alone, whatever else the machine runs: the process moves itself into a cgroup v1 cpuacct
// group of its own before it starts anything, so the daemon, containerd, the shims, runc, the engine's program and
// every container (the runner puts them under the same group as their cgroup parent, like a kubelet's pod cgroups) are
// charged to it, also those that exited meanwhile. The machine-wide counters (/proc/stat, the brief's cpuwrap.sh) also
// count other sessions' work on a shared 2-core machine; this does not. Undefined where there is no cgroup v1 cpuacct
// hierarchy or the process is not root: the caller then reports nothing.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = "/sys/fs/cgroup";

export class CpuLedger {
  private closed = false;
  private constructor(
    /** The group's path in every hierarchy ("/rc-pods-<hex>"); containers go under `${name}/pods` (Docker's CgroupParent). */
    readonly name: string,
    private readonly previous: string,
  ) {}

  static open(): CpuLedger | undefined {
    const acct = join(ROOT, "cpuacct");
    if (process.getuid?.() !== 0 || !existsSync(join(acct, "cpuacct.usage"))) return undefined;
    const previous = /^\d+:[^:]*\bcpuacct\b[^:]*:(.*)$/m.exec(readFileSync("/proc/self/cgroup", "utf8"))?.[1];
    if (previous === undefined) return undefined;
    const name = `/rc-pods-${randomBytes(4).toString("hex")}`;
    try {
      mkdirSync(join(acct, name));
      writeFileSync(join(acct, name, "cgroup.procs"), String(process.pid));
    } catch {
      return undefined;
    }
    const ledger = new CpuLedger(name, previous);
    process.on("exit", () => ledger.close());
    return ledger;
  }

  get cgroupParent(): string {
    return `${this.name}/pods`;
  }

  /** CPU seconds charged so far: user + system of everything started from here on, exited or not. */
  seconds(): number {
    return Number(readFileSync(join(ROOT, "cpuacct", this.name, "cpuacct.usage"), "utf8")) / 1e9;
  }

  /** user and system seconds (cpuacct.stat, in USER_HZ ticks). */
  split(): { user: number; system: number } {
    const stat = readFileSync(join(ROOT, "cpuacct", this.name, "cpuacct.stat"), "utf8");
    const get = (k: string) => Number(new RegExp(`^${k} (\\d+)$`, "m").exec(stat)?.[1] ?? 0) / 100;
    return { user: get("user"), system: get("system") };
  }

  /**
   * Moves the process back and removes the group in every hierarchy (Docker made `<name>/pods` in each); call it after
   * the daemon stopped. Returns the directories it could not remove (a process still in them).
   */
  close(): string[] {
    if (this.closed) return [];
    this.closed = true;
    try {
      writeFileSync(join(ROOT, "cpuacct", this.previous, "cgroup.procs"), String(process.pid));
    } catch {
      /* the previous group is gone: the root then */
      try {
        writeFileSync(join(ROOT, "cpuacct", "cgroup.procs"), String(process.pid));
      } catch {
        /* nothing else to try */
      }
    }
    const left: string[] = [];
    for (const h of readdirSync(ROOT)) {
      const top = join(ROOT, h, this.name);
      if (!existsSync(top)) continue;
      for (const d of [join(top, "pods"), top]) {
        if (!existsSync(d)) continue;
        try {
          rmdirSync(d);
        } catch {
          left.push(d);
        }
      }
    }
    return left;
  }
}
