// The restic repository of the backups. restic gets every secret from its environment (RESTIC_REPOSITORY, and
// RESTIC_PASSWORD_FILE or RESTIC_PASSWORD, plus a backend's own variables such as AWS_ACCESS_KEY_ID), never from argv;
// messages quote the repository with any user:password@ in its URL masked.
import { spawn } from "node:child_process";

export const BACKUP_TAG = "redis-cluster-backup";
/** Every snapshot of a backup is made with this --host, so retention groups by cluster tag only. */
export const BACKUP_HOST = "redis-cluster";

export interface RepositoryOptions {
  /** restic repository (e.g. rest:http://host:8000/, s3:https://host/bucket, /path): secret when it holds credentials. */
  repository: string;
  passwordFile?: string;
  password?: string;
  /** Backend variables (AWS_ACCESS_KEY_ID, …) passed to restic in its environment. */
  env?: Record<string, string>;
  /** restic's cache (default: restic's own, under $HOME/.cache). */
  cacheDir?: string;
  bin?: string;
}

export interface Retention {
  keepLast?: number;
  keepHourly?: number;
  keepDaily?: number;
  keepWeekly?: number;
  keepMonthly?: number;
}

export interface SnapshotInfo {
  id: string;
  short_id: string;
  time: string;
  paths: string[];
  tags?: string[];
}

export class RepositoryRefused extends Error {}

/** The repository URL with credentials masked, for messages. */
export function redactRepository(url: string): string {
  return url.replace(/\/\/[^/@\s]*@/g, "//***@");
}

export class Restic {
  constructor(private readonly o: RepositoryOptions) {
    if (!o.repository) throw new RepositoryRefused("no restic repository: set RESTIC_REPOSITORY (e.g. rest:http://host:8000/ or a directory)");
    if (!o.password && !o.passwordFile) throw new RepositoryRefused("no restic password: set RESTIC_PASSWORD_FILE (a file holding the repository password) or RESTIC_PASSWORD");
  }

  get where(): string {
    return redactRepository(this.o.repository);
  }

  private env(): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: process.env.HOME ?? "/tmp",
      ...this.o.env,
      RESTIC_REPOSITORY: this.o.repository,
    };
    if (this.o.passwordFile) env.RESTIC_PASSWORD_FILE = this.o.passwordFile;
    else env.RESTIC_PASSWORD = this.o.password;
    if (this.o.cacheDir) env.RESTIC_CACHE_DIR = this.o.cacheDir;
    return env;
  }

  /** Runs restic; rejects on a non-zero exit with restic's message (credentials masked). */
  async run(args: string[], opts: { cwd?: string; timeoutMs?: number; allowFail?: boolean } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const bin = this.o.bin ?? "restic";
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(bin, args, { env: this.env(), cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const t = setTimeout(() => child.kill("SIGTERM"), opts.timeoutMs ?? 30 * 60_000);
      child.on("error", (e) => {
        clearTimeout(t);
        reject(new Error((e as NodeJS.ErrnoException).code === "ENOENT" ? `${bin} is not installed: apt-get install restic (Debian), or put it on PATH` : e.message));
      });
      child.on("close", (code, signal) => {
        clearTimeout(t);
        resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr: redactRepository(stderr) });
      });
    });
    if (r.code !== 0 && !opts.allowFail) throw new Error(`restic ${args[0]} failed (exit ${r.code}): ${r.stderr.trim().split("\n").slice(-3).join(" / ")}`);
    return r;
  }

  /**
   * Whether the repository is there and the password opens it; throws RepositoryRefused naming the cause. Reads only
   * (restic cat config), so a refused run leaves the repository as it was.
   */
  async check(opts: { init?: boolean } = {}): Promise<void> {
    const r = await this.run(["cat", "config", "--no-lock"], { allowFail: true, timeoutMs: 120_000 });
    if (r.code === 0) return;
    const msg = r.stderr.trim().split("\n").filter(Boolean);
    if (/wrong password|no key found/i.test(r.stderr)) {
      throw new RepositoryRefused(`the restic repository ${this.where} refuses the password (${msg[0]}): check RESTIC_PASSWORD_FILE / the backup password secret`);
    }
    const missing = /no such file or directory|404|NoSuchKey|does not exist/i.test(r.stderr) && !/connection refused|no such host|timeout/i.test(r.stderr);
    if (missing && opts.init) {
      await this.run(["init"], { timeoutMs: 120_000 });
      return;
    }
    throw new RepositoryRefused(
      `the restic repository ${this.where} cannot be opened (${msg[0] ?? `exit ${r.code}`}): ${missing ? "no repository there: create it with `restic init` or run with --init-repository" : "check the address, the network and the backend credentials"}`,
    );
  }

  /** One snapshot of `dir` (every file in it); returns its id. */
  async backup(dir: string, tags: string[]): Promise<string> {
    const r = await this.run(["backup", "--json", "--host", BACKUP_HOST, ...tags.flatMap((t) => ["--tag", t]), "."], { cwd: dir });
    const summary = r.stdout.trim().split("\n").map((l) => {
      try {
        return JSON.parse(l) as { message_type?: string; snapshot_id?: string };
      } catch {
        return {};
      }
    }).find((m) => m.message_type === "summary");
    if (!summary?.snapshot_id) throw new Error(`restic backup printed no snapshot id: ${r.stdout.slice(-300)}`);
    return summary.snapshot_id;
  }

  /** Snapshots carrying every tag in `tags`, oldest first. */
  async snapshots(tags: string[]): Promise<SnapshotInfo[]> {
    const r = await this.run(["snapshots", "--json", "--no-lock", "--tag", tags.join(",")], { timeoutMs: 120_000 });
    return (JSON.parse(r.stdout || "[]") as SnapshotInfo[] | null) ?? [];
  }

  /** Restores snapshot `id` under `target` (files land at target + the snapshot's path). */
  async restore(id: string, target: string): Promise<void> {
    await this.run(["restore", id, "--target", target]);
  }

  /** Applies the retention to the snapshots with `tags` (grouped by tags) and prunes unreferenced data. */
  async forget(tags: string[], keep: Retention): Promise<string> {
    const flags: [keyof Retention, string][] = [["keepLast", "--keep-last"], ["keepHourly", "--keep-hourly"], ["keepDaily", "--keep-daily"], ["keepWeekly", "--keep-weekly"], ["keepMonthly", "--keep-monthly"]];
    const args = flags.filter(([k]) => keep[k] !== undefined).flatMap(([k, f]) => [f, String(keep[k])]);
    if (!args.length) return "no retention set: every snapshot kept";
    const r = await this.run(["forget", "--tag", tags.join(","), "--group-by", "host,tags", ...args, "--prune"]);
    return r.stdout.trim();
  }
}
