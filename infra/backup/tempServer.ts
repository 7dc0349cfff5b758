// A temporary redis-server holding one backed-up RDB, for the key-level restore to read from: its own temp dir,
// no TCP port (a unix socket with mode 700 in that dir: no port to race for, nothing reachable from the network),
// a random password in its mode-600 config file (never on argv), no persistence. Removed by stop(), and killed with
// its parent (setpriv --pdeathsig, where util-linux's setpriv exists) when the restore itself is killed.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { linkSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { sleep } from "../../smoke/time";

export interface TempServer {
  client: Redis;
  /** Keys the server loaded, and keys it dropped on load because they had expired ("Done loading RDB" log line). */
  loaded: number;
  expiredOnLoad: number;
  redisVersion: string;
  stop(): Promise<void>;
}

export const TEMP_DIR_PREFIX = "temp-redis-";

let setprivChecked: boolean | undefined;
const hasSetpriv = () => (setprivChecked ??= spawnSync("setpriv", ["--help"], { stdio: "ignore" }).status === 0);

/** Version of the local redis-server binary ("7.0.15"). */
export function redisServerVersion(bin = "redis-server"): string {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error(`${bin} is not installed: the restore loads each RDB into a temporary redis-server (Debian: apt-get install redis-server)`);
  const m = /v=(\d+\.\d+\.\d+)/.exec(r.stdout);
  if (!m) throw new Error(`cannot read the version of ${bin} from ${JSON.stringify(r.stdout.trim())}`);
  return m[1];
}

export interface TempServerOptions {
  bin?: string;
  timeoutMs?: number;
  /** Default: a random one. */
  password?: string;
  /** redis.conf lines after the defaults (later lines win): the restore drill's throwaway cluster adds a loopback port and cluster mode. */
  config?: string[];
}

/** `rdb` undefined: an empty server (no "Done loading RDB" line expected). */
export async function startTempServer(rdb: string | undefined, workDir: string, opts: TempServerOptions = {}): Promise<TempServer> {
  const dir = mkdtempSync(join(workDir, TEMP_DIR_PREFIX));
  const password = opts.password ?? randomBytes(24).toString("hex");
  const sock = join(dir, "redis.sock");
  if (rdb) {
    try {
      linkSync(rdb, join(dir, "dump.rdb"));
    } catch {
      copyFileSync(rdb, join(dir, "dump.rdb"));
    }
  }
  const conf = join(dir, "redis.conf");
  writeFileSync(conf, [
    "port 0", `unixsocket ${sock}`, "unixsocketperm 700", `dir ${dir}`, "dbfilename dump.rdb", 'save ""', "appendonly no",
    `logfile ${join(dir, "redis.log")}`, `requirepass ${password}`, "maxmemory 0", "daemonize no",
    // Reached only through its mode-700 socket (or loopback): the restore drill compares DEBUG DIGEST-VALUE here.
    "enable-debug-command local", ...(opts.config ?? []), "",
  ].join("\n"), { mode: 0o600 });
  const bin = opts.bin ?? "redis-server";
  const [cmd, ...args] = hasSetpriv() ? ["setpriv", "--pdeathsig", "KILL", "--", bin, conf] : [bin, conf];
  const child: ChildProcess = spawn(cmd, args, { stdio: "ignore" });
  let exited = false;
  child.on("exit", () => (exited = true));
  const logTail = () => {
    try {
      return readFileSync(join(dir, "redis.log"), "utf8").trim().split("\n").slice(-5).join("\n");
    } catch {
      return "(no log)";
    }
  };
  const stop = async () => {
    client.disconnect();
    if (!exited) {
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await Promise.race([gone, sleep(5000)]);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const client = new Redis({ path: sock, password, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, commandTimeout: 60_000 });
  client.on("error", () => undefined);
  try {
    // Redis loads the RDB before it accepts connections: answering means loaded.
    const until = Date.now() + (opts.timeoutMs ?? 10 * 60_000);
    for (let i = 0; ; i++) {
      if (exited) throw new Error(`the temporary redis-server${rdb ? ` for ${rdb}` : ""} exited while ${rdb ? "loading it" : "starting"}:\n${logTail()}`);
      try {
        await client.connect();
        await client.ping();
        break;
      } catch {
        client.disconnect();
        if (Date.now() > until || i > 100_000) throw new Error(`the temporary redis-server${rdb ? ` for ${rdb}` : ""} did not answer within ${opts.timeoutMs ?? 600_000} ms:\n${logTail()}`);
        await sleep(50);
      }
    }
    const m = rdb ? /done loading rdb, keys loaded: (\d+), keys expired: (\d+)/i.exec(readFileSync(join(dir, "redis.log"), "utf8")) : ["", "0", "0"];
    if (!m) throw new Error(`the temporary redis-server did not log the RDB load ("Done loading RDB"):\n${logTail()}`);
    const redisVersion = /redis_version:(\S+)/.exec(String(await client.info("server")))?.[1] ?? "";
    return { client, loaded: Number(m[1]), expiredOnLoad: Number(m[2]), redisVersion, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
