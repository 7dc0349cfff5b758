// Pod addresses: the runner's pods network is a /24 of 172.30.0.0/16; StatefulSet pods get fixed IPs from .10-.120
// (a scenario may choose a pod's next one), Job pods Docker's dynamic addresses from .128/25.
import { spawnSync } from "node:child_process";

/** A /24 of 172.30.0.0/16 that no route on this host uses. */
export function freePodSubnet(avoid: string[] = []): string {
  const routes = spawnSync("ip", ["-4", "route", "show"], { encoding: "utf8" }).stdout ?? "";
  for (let x = 10 + Math.floor(Math.random() * 200); x < 250; x++) {
    const s = `172.30.${x}.0/24`;
    if (!routes.includes(`172.30.${x}.`) && !avoid.includes(s)) return s;
  }
  throw new Error("pods runner: no free /24 in 172.30.0.0/16");
}

/** The fixed IPs of StatefulSet pods: round robin over .10-.120, skipping those in use or promised to a pod. */
export class PodIps {
  /** IP a pod gets on its next creation (scenarios), else the next unused one. */
  private readonly nextIps = new Map<string, string>();
  private cursor = 10;

  /** `prefix`: the subnet's first three octets. */
  constructor(private readonly prefix: string) {}

  /** The pod's next creation uses this IP (a scenario reusing or swapping addresses). */
  setNext(pod: string, ip: string): void {
    this.nextIps.set(pod, ip);
  }

  allocate(pod: string, inUse: Iterable<string | undefined>): string {
    const wanted = this.nextIps.get(pod);
    this.nextIps.delete(pod);
    if (wanted) return wanted;
    const used = new Set(inUse);
    const reserved = new Set(this.nextIps.values());
    for (let n = 0; n < 111; n++) {
      const ip = `${this.prefix}.${this.cursor}`;
      this.cursor = this.cursor >= 120 ? 10 : this.cursor + 1;
      if (!used.has(ip) && !reserved.has(ip)) return ip;
    }
    throw new Error("pods runner: no free pod IP");
  }
}
