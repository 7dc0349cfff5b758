// The backup engine (infra/backup/cli.ts) run on the Pulumi host against the published ports, like the smoke and
// scale steps: one backup after the smoke test, or the restore of a new stack before it. Secrets reach the command
// only through its environment (secret inputs); the plan gives their names.
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type { ClusterPlan } from "../../plan/plan";
import { runIdentity, type RepositoryPlan, type RepositorySecret } from "../../plan/backup";
import type { IssuedCertificate } from "../clusterCertificates";
import { tlsPemEnv, tsxCommand } from "../hostCommand";

/** Upper bound of one run (the dataset's size decides; a dev cluster is small). */
export const BACKUP_RUN_TIMEOUT_S = 3600;

/** How a host command reaches the cluster as the runs' user: `backup` (ACL) or admin. */
export interface BackupClient {
  /** That user's password (secret). */
  password: pulumi.Input<string>;
  username?: string;
  /** tls.enabled: the client certificate (key secret). */
  tls?: IssuedCertificate;
  /** monitoring.enabled: the Pushgateway container; a run that pushes to it (--pushgateway) waits for it. */
  pushgateway?: pulumi.Resource;
}

/** The repository's secret values (LoadedConfig.backupSecrets.backup or .restore). */
export interface RepositorySecrets {
  password?: pulumi.Input<string>;
  credentials?: { accessKeyId: pulumi.Input<string>; secretAccessKey: pulumi.Input<string> };
}

export interface BackupRunArgs {
  /** What to run: the engine's arguments from the plan, subcommand first (plan.backup.backupArgs, plan.restore.args). */
  cliArgs: string[];
  plan: ClusterPlan;
  repository: RepositoryPlan;
  secrets: RepositorySecrets;
  client: BackupClient;
  /** A change re-runs the command. */
  triggers: pulumi.Input<unknown>[];
  dependsOn: pulumi.Input<pulumi.Resource>[];
  /**
   * Run once (the restore): only `triggers` re-run it; a new password, certificate or port does not (the engine would
   * refuse the then non-empty cluster and fail `pulumi up`).
   */
  once?: boolean;
}

/** The environment of a run: the natMap, the cluster's credentials, the repository and its secrets. */
export function backupRunEnv(a: Pick<BackupRunArgs, "plan" | "repository" | "secrets" | "client">): Record<string, pulumi.Input<string>> {
  const secretOf = (s: RepositorySecret): pulumi.Input<string> => {
    const v = s === "password" ? a.secrets.password : a.secrets.credentials?.[s];
    // The config refuses a run without its secrets; reaching this is a wiring mistake.
    if (v === undefined) throw new Error(`backup run: no ${s} for the repository (LoadedConfig.backupSecrets)`);
    return pulumi.secret(v);
  };
  return {
    BACKUP_NAT_MAP: JSON.stringify(a.plan.natMap),
    REDISCLI_AUTH: pulumi.secret(a.client.password),
    ...(a.client.username && { REDIS_USER: a.client.username }),
    ...(a.client.tls && tlsPemEnv(a.client.tls)),
    ...a.repository.env,
    ...Object.fromEntries(Object.entries(a.repository.secretEnv).map(([env, s]) => [env, secretOf(s)])),
  };
}

/**
 * The run as a local command: a private staging folder (mktemp, removed on exit) as --work-dir, the host seeds as
 * --nodes. Its stdout is the engine's one-line summary.
 */
export function backupRun(name: string, a: BackupRunArgs, parent?: pulumi.Resource): command.local.Command {
  const cli = tsxCommand("infra/backup/cli.ts", [...a.cliArgs, "--nodes", a.plan.hostSeeds.join(",")]);
  const timeouts = { create: `${BACKUP_RUN_TIMEOUT_S + 120}s`, update: `${BACKUP_RUN_TIMEOUT_S + 120}s` };
  return new command.local.Command(
    name,
    {
      // No `dir`: the provider runs in the project directory. timeout(1) bounds a hung run.
      create: `d=$(mktemp -d) && trap 'rm -rf "$d"' EXIT && timeout -s TERM ${BACKUP_RUN_TIMEOUT_S} ${cli} --work-dir "$d"`,
      environment: backupRunEnv(a),
      triggers: a.triggers,
      logging: "stdoutAndStderr",
    },
    { parent, dependsOn: [...a.dependsOn, ...(a.client.pushgateway && a.cliArgs.includes("--pushgateway") ? [a.client.pushgateway] : [])], customTimeouts: timeouts, ...(a.once && { ignoreChanges: ["create", "environment"] }) },
  );
}

/** What a backup is, for its trigger (beside the cluster's definition): other arguments or another repository run one more. */
export const backupTrigger = runIdentity;

/** What a restore is, for its trigger: another snapshot, cluster id or repository re-runs it (and an engine refusal of a non-empty cluster then fails `pulumi up`). */
export const restoreTrigger = (plan: NonNullable<ClusterPlan["restore"]>) => backupTrigger(plan.args, plan.repository);
