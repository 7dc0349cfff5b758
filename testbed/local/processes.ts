import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** True while `pid` is a live process. Zombies count as gone: the state is read, not trusted to `kill -0`. */
export function isAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** The command line of `pid` ("" when it is gone), for checking a recorded pid is still ours before signalling it. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
  } catch {
    return "";
  }
}

/**
 * Live redis-server processes working in `dir` or below (Redis chdirs to its data dir): the servers of one local
 * cluster, found from the folder alone, so they can be stopped even when the pids on record are stale.
 */
export function redisServersUnder(dir: string): number[] {
  const root = dir.endsWith("/") ? dir : dir + "/";
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (!cmdline(pid).startsWith("redis-server") || !isAlive(pid)) continue;
    let cwd = "";
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      continue;
    }
    if ((cwd + "/").startsWith(root)) pids.push(pid);
  }
  return pids;
}
