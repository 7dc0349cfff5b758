// A private Docker engine for tests and the Docker demo: its own dockerd with its own data-root, exec-root, socket and
// pidfile under a temp dir, never the system's /var/run/docker.sock. Stopping it removes everything it made.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Docker from "dockerode";
import { sleep } from "../../smoke/time";

export interface PrivateDockerd {
  /** Engine API client on the private socket. */
  docker: Docker;
  socket: string;
  dir: string;
  pid: number;
  /** Milliseconds from spawn to the first answered /_ping. */
  startMs: number;
  /** Removes every container, network and volume, stops dockerd and deletes its directories; idempotent. */
  stop(): Promise<void>;
}

const INSTALL_HINT = "install it with: sh scripts/install-system-deps.sh (Debian packages docker.io and iptables), as root";

/** Mount points under `dir` (overlay layers, netns, shm of containers) that a crashed daemon can leave behind. */
export function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mounts", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[1]?.replace(/\\040/g, " "))
    .filter((m): m is string => !!m && (m === dir || m.startsWith(`${dir}/`)));
}

function logTail(file: string, lines = 15): string {
  try {
    return readFileSync(file, "utf8").trim().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

const live: Set<() => void> = new Set();
let hooked = false;
/** Last resort when the process exits without `stop()` (a failing test, Ctrl-C): kill dockerd and unmount synchronously. */
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", () => live.forEach((f) => f()));
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      live.forEach((f) => f());
      process.exit(130);
    });
  }
}

/**
 * Starts dockerd as root on a private socket and waits until it answers.
 * - `--bridge=none`: no default docker0 bridge (nothing to collide with another engine); containers use the networks the
 *   program creates, whose bridges are named after their random network id.
 * - `--iptables=false --ip-forward=false --ip-masq=false`: the host's firewall and forwarding stay untouched (other
 *   engineers' network-namespace tests rely on them). Published ports still work through docker-proxy on the given
 *   host address, and containers on one bridge reach each other directly; nothing can leave the machine through NAT.
 */
export async function startDockerd(opts: { timeoutMs?: number; log?: (line: string) => void } = {}): Promise<PrivateDockerd> {
  const log = opts.log ?? (() => undefined);
  if (process.getuid?.() !== 0) throw new Error("a private dockerd needs root (uid 0)");
  const which = spawnSync("sh", ["-c", "command -v dockerd"], { encoding: "utf8" });
  if (which.status !== 0) throw new Error(`dockerd is not installed: ${INSTALL_HINT}`);

  // Short path: the socket path must stay under the 108-byte limit of unix sockets.
  const dir = mkdtempSync(join(tmpdir(), "rcd-"));
  const socket = join(dir, "docker.sock");
  const logFile = join(dir, "dockerd.log");
  const fd = openSync(logFile, "a");
  const t0 = Date.now();
  const child: ChildProcess = spawn(
    "dockerd",
    [
      "--data-root", join(dir, "data"),
      "--exec-root", join(dir, "exec"),
      "--host", `unix://${socket}`,
      "--pidfile", join(dir, "dockerd.pid"),
      "--bridge=none",
      "--iptables=false",
      "--ip-forward=false",
      "--ip-masq=false",
      "--log-level=warn",
    ],
    { stdio: ["ignore", fd, fd], detached: true },
  );
  closeSync(fd);
  let exited: string | undefined;
  child.once("exit", (code, sig) => (exited = `dockerd exited (code ${code}, signal ${sig})`));
  child.once("error", (e) => (exited = `dockerd could not be started: ${e.message}`));

  const killSync = () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      // The process is exiting (a timed-out test, Ctrl-C): only synchronous work runs now, so a child process removes
      // the containers and networks through the API (their bridges and docker-proxy listeners go with them) and stops dockerd.
      spawnSync(process.execPath, ["--import", "tsx", join(__dirname, "emergencyStop.ts"), socket, String(child.pid)], {
        stdio: "inherit",
        timeout: 60_000,
      });
    }
    // Whatever is still alive and belongs to this daemon (shims and their containers, docker-proxy, containerd, dockerd).
    killTree(dir, child.pid);
    // A daemon killed before it removed its networks leaves their bridges (br-<network id>) on the host: delete those
    // whose network id is in this daemon's own network store (never another engine's).
    const ours = networkIdsIn(join(dir, "data", "network", "files", "local-kv.db"));
    for (const b of dockerBridges()) if (ours.has(b.slice(3))) spawnSync("ip", ["link", "del", b]);
    // Lazy unmount: a killed daemon leaves overlay and netns mounts under its directory.
    for (const m of mountsUnder(dir).reverse()) spawnSync("umount", ["-l", m]);
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      console.error(`private dockerd: could not remove ${dir}: ${(e as Error).message}`);
    }
  };
  live.add(killSync);
  hookExit();

  const docker = new Docker({ socketPath: socket });
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let lastErr = "";
  for (;;) {
    if (exited) {
      const tail = logTail(logFile);
      killSync();
      live.delete(killSync);
      throw new Error(`${exited} before answering on ${socket}:\n${tail}`);
    }
    if (existsSync(socket)) {
      try {
        await docker.ping();
        break;
      } catch (e) {
        lastErr = (e as Error).message;
      }
    }
    if (Date.now() > deadline) {
      const tail = logTail(logFile);
      killSync();
      live.delete(killSync);
      throw new Error(`dockerd did not answer on ${socket} within ${opts.timeoutMs ?? 30_000} ms (${lastErr}):\n${tail}`);
    }
    await sleep(100);
  }
  const startMs = Date.now() - t0;
  log(`dockerd ${child.pid} answers on ${socket} after ${startMs} ms`);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await removeEverything(docker);
    } catch (e) {
      log(`cleanup through the API failed (${(e as Error).message}); killing dockerd`);
    }
    if (child.exitCode === null && child.pid) {
      process.kill(child.pid, "SIGTERM");
      const until = Date.now() + 15_000;
      while (child.exitCode === null && child.signalCode === null && Date.now() < until) await sleep(100);
    }
    killSync();
    live.delete(killSync);
    const left = mountsUnder(dir);
    if (left.length > 0) throw new Error(`mounts left under ${dir}: ${left.join(", ")}`);
  };
  return { docker, socket, dir, pid: child.pid!, startMs, stop };
}

/** Bridges named like Docker's user networks (br- and 12 hex digits of the network id). */
function dockerBridges(): string[] {
  const out = spawnSync("ip", ["-o", "link", "show", "type", "bridge"], { encoding: "utf8" }).stdout ?? "";
  return [...out.matchAll(/^\d+: (br-[0-9a-f]{12})[:@]/gm)].map((m) => m[1]);
}

/** 12-digit prefixes of the network ids in dockerd's network store (a bolt file: the ids are stored as plain text). */
function networkIdsIn(file: string): Set<string> {
  try {
    return new Set([...readFileSync(file, "latin1").matchAll(/[0-9a-f]{64}/g)].map((m) => m[0].slice(0, 12)));
  } catch {
    return new Set();
  }
}

/** pids whose command line names `dir` (containerd, shims) plus every descendant of those and of `rootPid`, then SIGKILL. */
function killTree(dir: string, rootPid: number | undefined): void {
  const procs: { pid: number; ppid: number; cmd: string }[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      procs.push({ pid: Number(p), ppid, cmd: readFileSync(`/proc/${p}/cmdline`, "utf8").replace(/\0/g, " ") });
    } catch {
      /* exited meanwhile */
    }
  }
  const mine = new Set(procs.filter((p) => p.pid === rootPid || p.cmd.includes(`${dir}/`)).map((p) => p.pid));
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of procs) if (!mine.has(p.pid) && mine.has(p.ppid)) (mine.add(p.pid), (grew = true));
  }
  // Children first: a container's processes, then its shim, then the daemons.
  for (const pid of [...mine].reverse()) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
  }
}

/** Removes every container (forced), then every network but the predefined ones, then every volume. */
export async function removeEverything(docker: Docker): Promise<void> {
  for (const c of await docker.listContainers({ all: true })) await docker.getContainer(c.Id).remove({ force: true, v: true });
  for (const n of await docker.listNetworks()) {
    if (!["bridge", "host", "none"].includes(n.Name)) await docker.getNetwork(n.Id).remove();
  }
  const { Volumes } = await docker.listVolumes();
  for (const v of Volumes ?? []) await docker.getVolume(v.Name).remove({ force: true });
}
