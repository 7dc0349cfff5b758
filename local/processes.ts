import { readFileSync } from "node:fs";

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
