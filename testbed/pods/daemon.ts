// The runner's own Docker engine and what lives on it: a private dockerd with the stand-in images, the pods network
// (a /24 of its own) and a directory for the pods' data; stopped, nothing of them is left.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDockerd, mountsUnder, type PrivateDockerd } from "../docker/daemon";
import { ensureNodeImage, ensureStandInImages } from "../docker/images";
import { freePodSubnet } from "./ips";

export interface PodsDaemon {
  dockerd: PrivateDockerd;
  /** The pods' data, claims, Job pods and the DNS files. */
  dir: string;
  network: string;
  subnet: string;
  /** Local image of each stand-in: redis, exporter, node. */
  images: { redis: string; exporter: string; node: string };
}

/** What stop found left behind (nothing, normally). */
export interface Leftovers {
  mountsLeft: string[];
  dirLeft: boolean;
  daemonAlive: boolean;
  bridgeLeft: boolean;
  /** The outside client's namespace or files (LoadBalancer Services), if left. */
  outsideLeft?: string[];
}

/**
 * What the teardown left, one line each; empty = nothing. `cgroupsLeft` undefined means no CPU ledger looked (not
 * root, no cgroup v1 cpuacct): that is a failure too, since nothing else checks that no container's cgroup is left.
 */
export function leftoverFailures(left: Leftovers, cgroupsLeft: string[] | undefined): string[] {
  const out: string[] = [];
  if (left.mountsLeft.length) out.push(`mounts left: ${left.mountsLeft.join(", ")}`);
  if (left.dirLeft) out.push("the runner's directory is left");
  if (left.daemonAlive) out.push("the pods' dockerd is still alive");
  if (left.bridgeLeft) out.push("the pods' bridge is left");
  if (left.outsideLeft?.length) out.push(`the outside client is left: ${left.outsideLeft.join(", ")}`);
  if (cgroupsLeft === undefined) out.push("cgroups not checked: no CPU ledger (needs root and a cgroup v1 cpuacct hierarchy, testbed/pods/cpu.ts)");
  else if (cgroupsLeft.length) out.push(`cgroups left: ${cgroupsLeft.join(", ")}`);
  return out;
}

export const subnetPrefix = (subnet: string) => subnet.replace(/\.0\/24$/, "");

/** Starts a private dockerd, imports the stand-in images (Redis, exporter, Node) and creates the pods network. */
export async function startPodsDaemon(opts: { log: (line: string) => void; subnet?: string }): Promise<PodsDaemon> {
  const { log } = opts;
  const dockerd = await startDockerd({ log });
  let dir = "";
  try {
    // Both imports at once: mostly disk I/O in the daemon, so they overlap with each other (and, through upOn(),
    // with the program's start in the engine).
    const [standIn, node] = await Promise.all([ensureStandInImages(dockerd.docker, { log }), ensureNodeImage(dockerd.docker, { log })]);
    dir = mkdtempSync(join(tmpdir(), "rc-pods-"));
    chmodSync(dir, 0o755);
    // Holds the pods' data and the password files: removed also when the process ends without stop() (a signal,
    // a test's time bound). The daemon's own exit hook, registered first, has killed the containers by then.
    const created = dir;
    process.on("exit", () => rmSync(created, { recursive: true, force: true }));
    const subnet = opts.subnet ?? freePodSubnet();
    const prefix = subnetPrefix(subnet);
    const network = `pods-${randomBytes(3).toString("hex")}`;
    // Fixed pod IPs from .10-.120; Job pods get Docker's dynamic addresses from .128/25.
    await dockerd.docker.createNetwork({
      Name: network,
      Driver: "bridge",
      IPAM: { Config: [{ Subnet: subnet, Gateway: `${prefix}.1`, IPRange: `${prefix}.128/25` }] },
      Options: { "com.docker.network.bridge.enable_ip_masquerade": "false" },
    } as any);
    return { dockerd, dir, network, subnet, images: { redis: standIn.redis, exporter: standIn.exporter, node: node.image } };
  } catch (e) {
    await dockerd.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Removes the network, the daemon and the directory (the containers must be gone); reports what was left. */
export async function stopPodsDaemon(d: PodsDaemon, log: (line: string) => void): Promise<Leftovers> {
  const daemonDir = d.dockerd.dir;
  try {
    await d.dockerd.docker.getNetwork(d.network).remove().catch(() => undefined);
  } finally {
    await d.dockerd.stop().catch((e) => log(`dockerd stop: ${(e as Error).message}`));
    rmSync(d.dir, { recursive: true, force: true });
  }
  let daemonAlive = false;
  try {
    process.kill(d.dockerd.pid, 0);
    daemonAlive = true;
  } catch {
    /* gone */
  }
  const addrs = spawnSync("ip", ["-4", "-o", "addr", "show"], { encoding: "utf8" }).stdout ?? "";
  return {
    mountsLeft: [...mountsUnder(daemonDir), ...mountsUnder(d.dir)],
    dirLeft: existsSync(d.dir) || existsSync(daemonDir),
    daemonAlive,
    bridgeLeft: addrs.includes(` ${subnetPrefix(d.subnet)}.1/`),
  };
}
