// Backup, restore and the restore drill as commands: `npm run backup -- backup --nodes a:p,… --work-dir D [--keep-daily 7 …]`,
// `npm run backup -- restore --nodes a:p,… --work-dir D [--snapshot ID]` and `npm run backup -- drill --work-dir D`.
// backup and drill push their outcome to a Pushgateway with --pushgateway URL --push-cluster NAME (or PUSHGATEWAY_URL,
// BACKUP_PUSH_CLUSTER). Run by a person, and later by the Jobs
// (bundled like the scale step). The cluster's credentials come from the scripts' environment (REDISCLI_AUTH or
// REDIS_PASSWORD_FILE, REDIS_USER, REDIS_TLS_*), the repository's from restic's own (RESTIC_REPOSITORY,
// RESTIC_PASSWORD_FILE or RESTIC_PASSWORD, backend variables such as AWS_ACCESS_KEY_ID): never from argv.
// Exit: 0 done; 1 usage; 2 refused (nothing was changed; a restore marker found inside the cut's pause: writes paused
// for milliseconds, nothing stored); 3 failed (a backup: no snapshot made; a restore: run it again).
import { Command, InvalidArgumentError, Option } from "commander";
import { connectionFromEnv } from "../scale/scaler";
import { backupPushSamples, BACKUP_PUSH_JOB, drillPushSamples, DRILL_PUSH_JOB } from "../../monitoring/backupMetrics";
import { runBackup } from "./backup";
import { runDrill } from "./drill";
import { pushSamples, pushTarget, type PushTarget } from "./push";
import type { RepositoryOptions } from "./restic";
import { runRestore } from "./restore";

/** A restic tag's part: no comma (restic's tag separator), no space. */
const clusterName = (v: string) => {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(v)) throw new InvalidArgumentError("--cluster-name must be letters, digits, '.', '_' or '-' (at most 63), starting with a letter or digit");
  return v;
};

const int = (name: string, min: number) => (v: string) => {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}`);
  return Number(v);
};

/** The repository from restic's environment variables (and TMPDIR: restic writes its packs there, and / may be read-only). */
export function repositoryFromEnv(env: NodeJS.ProcessEnv): RepositoryOptions {
  const passthrough = Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && /^(AWS_|B2_|AZURE_|GOOGLE_|RESTIC_REST_|OS_|TMPDIR$)/.test(k))) as Record<string, string>;
  return {
    repository: env.RESTIC_REPOSITORY ?? "",
    passwordFile: env.RESTIC_PASSWORD_FILE || undefined,
    password: env.RESTIC_PASSWORD || undefined,
    cacheDir: env.RESTIC_CACHE_DIR || undefined,
    env: passthrough,
  };
}

function common(c: Command): Command {
  return c
    .requiredOption("--nodes <list>", "seed nodes host:port, comma-separated")
    .requiredOption("--work-dir <dir>", "folder for the RDBs in transit (room for the whole dataset)")
    .option("--nat-map <json>", 'announced "ip:port" -> {"host","port"} where this process reaches it (or BACKUP_NAT_MAP)');
}

function pushOptions(c: Command): Command {
  return c
    .option("--pushgateway <url>", "push the outcome to this Prometheus Pushgateway (or PUSHGATEWAY_URL)")
    .option("--push-cluster <name>", "the `cluster` label of the pushed metrics, as the backup alert rules select it (or BACKUP_PUSH_CLUSTER)");
}

function restoreSource(c: Command): Command {
  return c
    .option("--snapshot <id>", "restic snapshot id or 'latest'", "latest")
    .option("--cluster-id <id>", "only backups of this cluster id (the manifest's clusterId)")
    .option("--cluster-name <name>", "only backups of this cluster name (the backup's --cluster-name)", clusterName)
    .option("--batch-keys <n>", "keys per SCAN/DUMP/RESTORE round", int("--batch-keys", 1), 500)
    .option("--redis-server <path>", "redis-server binary of the temporary servers", "redis-server");
}

export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let code = 0;
  const reach = (o: Record<string, unknown>) => {
    const nat = (o.natMap as string | undefined) ?? env.BACKUP_NAT_MAP;
    return { nodes: String(o.nodes).split(",").filter(Boolean), natMap: nat ? JSON.parse(nat) : undefined, ...connectionFromEnv(env), repository: repositoryFromEnv(env), workDir: String(o.workDir) };
  };
  // Checked before the run: a wrong setting is a usage error, not a failed backup.
  const target = (o: Record<string, unknown>): PushTarget | undefined => {
    try {
      return pushTarget((o.pushgateway as string | undefined) ?? env.PUSHGATEWAY_URL, (o.pushCluster as string | undefined) ?? env.BACKUP_PUSH_CLUSTER);
    } catch (e) {
      process.stderr.write(`error: ${(e as Error).message}\n`);
      throw new InvalidArgumentError((e as Error).message);
    }
  };
  const pushLog = (l: string) => process.stderr.write(`${new Date().toISOString().slice(11, 23)} push: ${l}\n`);
  const program = new Command("backup").description("Consistent backups of a Redis Cluster into a restic repository, and key-level restores into a cluster of any shape").exitOverride();
  pushOptions(common(program.command("backup").description("Pauses writes on every master until each has forked its snapshot, streams the RDBs, stores them with a manifest as one restic snapshot")))
    .option("--pause-bound-ms <n>", "CLIENT PAUSE timeout: the longest writes wait", int("--pause-bound-ms", 10), 1000)
    .addOption(new Option("--transfer <mode>", "disk: the master forks at once (RDB written on the node, then streamed); diskless: waits repl-diskless-sync-delay").choices(["disk", "diskless"]).default("disk"))
    .option("--settle-ms <n>", "how long an unhealthy cluster may take to settle before the backup refuses", int("--settle-ms", 0), 10_000)
    .option("--init-repository", "create the restic repository when there is none")
    .option("--cluster-name <name>", "tag the snapshot name-<name> as well: drills and restores pick this cluster's backups by it (its id changes with each scale step)", clusterName)
    .option("--keep-last <n>", "retention: keep the last n backups", int("--keep-last", 1))
    .option("--keep-hourly <n>", "retention: one per hour for n hours", int("--keep-hourly", 1))
    .option("--keep-daily <n>", "retention: one per day for n days", int("--keep-daily", 1))
    .option("--keep-weekly <n>", "retention: one per week for n weeks", int("--keep-weekly", 1))
    .option("--keep-monthly <n>", "retention: one per month for n months", int("--keep-monthly", 1))
    .exitOverride()
    .action(async (o) => {
      const keep = { keepLast: o.keepLast, keepHourly: o.keepHourly, keepDaily: o.keepDaily, keepWeekly: o.keepWeekly, keepMonthly: o.keepMonthly };
      const any = Object.values(keep).some((v) => v !== undefined);
      const push = target(o);
      const t0 = Date.now();
      const r = await runBackup({ ...reach(o), pauseBoundMs: o.pauseBoundMs, transfer: o.transfer, settleMs: o.settleMs, initRepository: !!o.initRepository, clusterName: o.clusterName, retention: any ? keep : undefined });
      process.stdout.write(`${r.message}\n`);
      code = r.code;
      const shards = r.manifest?.shards ?? [];
      if (push) await pushSamples(push, BACKUP_PUSH_JOB, backupPushSamples({
        success: r.code === 0, endedAt: new Date(), durationSeconds: (Date.now() - t0) / 1000,
        bytes: shards.reduce((n, x) => n + x.bytes, 0), keys: shards.reduce((n, x) => n + x.keys, 0), writePauseSeconds: (r.manifest?.pauseMs ?? 0) / 1000,
      }), pushLog);
    });
  restoreSource(common(program.command("restore").description("Verifies a backup, then loads each RDB into a temporary redis-server and RESTOREs its keys into an empty cluster")))
    .exitOverride()
    .action(async (o) => {
      const r = await runRestore({ ...reach(o), snapshot: o.snapshot, clusterId: o.clusterId, clusterName: o.clusterName, batchKeys: o.batchKeys, redisServer: o.redisServer });
      process.stdout.write(`${r.message}\n`);
      code = r.code;
    });
  pushOptions(restoreSource(program.command("drill").description("Restores a backup into a throwaway cluster of local redis-servers and compares it with the manifest and the RDBs (DEBUG DIGEST-VALUE and expiry of sampled keys)")))
    .requiredOption("--work-dir <dir>", "folder for the downloaded snapshot and the throwaway servers (room for the snapshot, memory for the dataset)")
    .option("--masters <n>", "masters of the throwaway cluster (1-64)", (v: string) => {
      const n = int("--masters", 1)(v);
      if (n > 64) throw new InvalidArgumentError("--masters must be at most 64");
      return n;
    }, 1)
    .option("--sample-keys <n>", "keys per shard whose digest and expiry are compared", int("--sample-keys", 1), 100)
    .exitOverride()
    .action(async (o) => {
      const push = target(o);
      const r = await runDrill({ repository: repositoryFromEnv(env), workDir: String(o.workDir), snapshot: o.snapshot, clusterId: o.clusterId, clusterName: o.clusterName, batchKeys: o.batchKeys, redisServer: o.redisServer, masters: o.masters, sampleKeys: o.sampleKeys });
      process.stdout.write(`${r.message}\n`);
      code = r.code;
      if (push) await pushSamples(push, DRILL_PUSH_JOB, drillPushSamples({ success: r.code === 0, endedAt: new Date(), durationSeconds: r.ms / 1000, keysChecked: r.keysChecked }), pushLog);
    });
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    return (e as { exitCode?: number }).exitCode === 0 ? 0 : 1;
  }
  return code;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`backup: ${(e as Error).message}\n`);
      process.exit(3);
    },
  );
}
