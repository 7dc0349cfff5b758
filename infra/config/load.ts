import * as pulumi from "@pulumi/pulumi";
import { ClusterSpec, ConfigError, PROJECT, stackConfigSchema, validateConfig } from "./schema";
import type { BackupConfig, BackupSecrets } from "./backup";

/** The stack config as the program uses it: the validated spec and the secrets beside it. */
export interface LoadedConfig {
  spec: ClusterSpec;
  password: pulumi.Output<string> | undefined;
  /** Passwords configured under `acl` (acl.passwords.<user>, acl.users[].password) by user name, secret. */
  aclPasswords: Record<string, pulumi.Output<string>>;
  /** backup.* / restore.* repository password and S3 credentials (secret); restore's already resolved against backup's. */
  backupSecrets: BackupSecrets<pulumi.Output<string>>;
}

/**
 * Reads every `redis-cluster:*` key of the stack config and validates it (the only Pulumi-aware part of config).
 * Values arrive as text: the CLI hands a declared default as its text (`"0"` for `default: "0"` and `default: 0`
 * alike) and objects as JSON text. So the schema decides: string keys keep their text, never JSON-decoded;
 * numbers, booleans and objects are JSON-decoded, so `pulumi config set masters 3` and an object in
 * Pulumi.<stack>.yaml both work.
 */
export function loadStackConfig(): LoadedConfig {
  const all = pulumi.runtime.allConfig();
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(all)) {
    if (!k.startsWith(`${PROJECT}:`)) continue;
    const key = k.slice(PROJECT.length + 1);
    raw[key] = TEXT_KEYS.has(key) ? v : decode(v);
  }
  // The engine lists secret keys; a password stored in plain text would end up in Pulumi.<stack>.yaml unencrypted.
  const secretKeys = process.env.PULUMI_CONFIG_SECRET_KEYS;
  if (raw.password !== undefined && secretKeys && !(JSON.parse(secretKeys) as string[]).includes(`${PROJECT}:password`)) {
    throw new pulumi.RunError(
      new ConfigError([`${PROJECT}:password is stored in plain text; set it with \`pulumi config set --secret ${PROJECT}:password <value>\``]).message,
    );
  }
  const acl = raw.acl as { passwords?: Record<string, unknown>; users?: { password?: unknown }[] } | undefined;
  const aclHasPassword = typeof acl === "object" && acl !== null &&
    (Object.values(acl.passwords ?? {}).some((p) => p !== undefined) || (Array.isArray(acl.users) && acl.users.some((u) => u?.password !== undefined)));
  if (aclHasPassword && secretKeys && !(JSON.parse(secretKeys) as string[]).includes(`${PROJECT}:acl`)) {
    throw new pulumi.RunError(
      new ConfigError([`${PROJECT}:acl holds passwords in plain text; set them with \`pulumi config set --secret --path '${PROJECT}:acl.passwords.<user>' <value>\` (or acl.users[i].password)`]).message,
    );
  }
  // backup.password / .credentials and restore's: the whole object must be a secret key, like acl.
  for (const key of ["backup", "restore"]) {
    const o = raw[key] as { password?: unknown; credentials?: unknown } | undefined;
    const has = typeof o === "object" && o !== null && (o.password !== undefined || o.credentials !== undefined);
    if (has && secretKeys && !(JSON.parse(secretKeys) as string[]).includes(`${PROJECT}:${key}`)) {
      throw new pulumi.RunError(
        new ConfigError([`${PROJECT}:${key} holds a password or credentials in plain text; set them with \`pulumi config set --secret --path '${PROJECT}:${key}.password' <value>\` (and ${key}.credentials.accessKeyId / secretAccessKey)`]).message,
      );
    }
  }
  let spec: ClusterSpec;
  try {
    spec = validateConfig(raw, { name: `${PROJECT}-${pulumi.getStack()}` });
  } catch (e) {
    // RunError: Pulumi prints the message alone, without a stack trace.
    if (e instanceof ConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
  const password = raw.password === undefined ? undefined : new pulumi.Config(PROJECT).requireSecret("password");
  const aclPasswords: Record<string, pulumi.Output<string>> = {};
  if (aclHasPassword) {
    const secretAcl = new pulumi.Config(PROJECT).requireSecretObject<{ passwords?: Record<string, string>; users?: { name: string; password?: string }[] }>("acl");
    for (const user of ["replica", "exporter", "smoke"]) {
      if (acl!.passwords?.[user] !== undefined) aclPasswords[user] = secretAcl.apply((a) => a.passwords![user]);
    }
    (acl!.users ?? []).forEach((u, i) => {
      if (u?.password !== undefined) aclPasswords[spec.acl.users[i].name] = secretAcl.apply((a) => a.users![i].password!);
    });
  }
  return { spec, password, aclPasswords, backupSecrets: backupSecrets(spec) };
}

/** The secret values of backup.* and restore.*, each read from the object RestoreSpec.secretsFrom names. */
function backupSecrets(spec: ClusterSpec): BackupSecrets<pulumi.Output<string>> {
  type Secrets = Pick<BackupConfig, "password" | "credentials">;
  const read = (key: "backup" | "restore") => new pulumi.Config(PROJECT).requireSecretObject<Secrets>(key);
  const of = (key: "backup" | "restore", password: boolean, credentials: boolean) => ({
    ...(password && { password: read(key).apply((o) => o.password!) }),
    ...(credentials && { credentials: { accessKeyId: read(key).apply((o) => o.credentials!.accessKeyId), secretAccessKey: read(key).apply((o) => o.credentials!.secretAccessKey) } }),
  });
  const out: BackupSecrets<pulumi.Output<string>> = {};
  if (spec.backup.passwordProvided || spec.backup.credentialsProvided) out.backup = of("backup", spec.backup.passwordProvided, spec.backup.credentialsProvided);
  const r = spec.restore;
  if (r) {
    const password = of(r.secretsFrom.password, true, false).password;
    const credentials = r.secretsFrom.credentials ? of(r.secretsFrom.credentials, false, true).credentials : undefined;
    out.restore = { password, ...(credentials && { credentials }) };
  }
  return out;
}

/** Top-level keys whose schema type is a string or a string enum (password included). */
export const TEXT_KEYS: ReadonlySet<string> = new Set(
  Object.entries(stackConfigSchema.shape as Record<string, unknown>)
    .filter(([, t]) => {
      let s: any = t;
      while (s?.unwrap && !s.shape && !s.options) s = s.unwrap();
      return s?.def?.type === "string" || s?.def?.type === "enum";
    })
    .map(([k]) => k),
);

function decode(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}
