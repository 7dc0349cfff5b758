// A restic repository behind a real protocol server: `rclone serve restic` (restic's REST protocol) on 127.0.0.1
// over a local folder, for the backup tests and the bench. The port is the kernel's choice, read from rclone's log.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface RestRepository {
  /** restic repository URL (rest:http://127.0.0.1:port/). */
  url: string;
  /** The folder rclone serves (the repository's files). */
  dir: string;
  stop(): Promise<void>;
}

/** Fails with how to install them when restic or rclone is missing (never a silent skip). */
export function requireResticAndRclone(): void {
  for (const [bin, pkg] of [["restic", "restic"], ["rclone", "rclone"]]) {
    const r = spawnSync(bin, ["version"], { encoding: "utf8" });
    if (r.error || r.status !== 0) throw new Error(`${bin} is not installed: run \`npm run setup:system\` (Debian: apt-get install ${pkg})`);
  }
}

/** `host`: the address it listens on (default loopback; the pods runner's pods reach the host at their network's gateway). */
export async function startRestRepository(timeoutMs = 15_000, host = "127.0.0.1"): Promise<RestRepository> {
  requireResticAndRclone();
  const dir = mkdtempSync(join(tmpdir(), "restic-rest-"));
  const child: ChildProcess = spawn("rclone", ["serve", "restic", "--addr", `${host}:0`, "--config", "/dev/null", dir], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
      child.kill("SIGKILL");
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`rclone serve restic did not start within ${timeoutMs} ms:\n${log}`)), timeoutMs);
      child.stderr!.on("data", (d) => {
        log += d;
        const m = /Serving restic REST API on (http:\/\/[\d.]+:\d+\/)/.exec(log);
        if (m) {
          clearTimeout(t);
          resolve(`rest:${m[1]}`);
        }
      });
      child.once("exit", (code) => {
        clearTimeout(t);
        reject(new Error(`rclone serve restic exited (${code}):\n${log}`));
      });
    });
    return { url, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
