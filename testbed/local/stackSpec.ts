import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { PROJECT, validateConfig, type ClusterSpec } from "../../infra/config/schema";

const ROOT = join(__dirname, "..", "..");

/**
 * The validated spec of a Pulumi.<stack>.yaml file, the way the Pulumi program would see it (same schema, same
 * defaults): `redis-cluster:` keys without the prefix. `name` is the spec's name (it sets the node names).
 */
export function loadStackSpecFile(path: string, name: string, overrides: Record<string, unknown> = {}): ClusterSpec {
  const doc = parse(readFileSync(path, "utf8")) as { config?: Record<string, unknown> } | null;
  // An empty file would silently plan the defaults, which is not what the file's owner meant.
  if (!doc || typeof doc !== "object" || !doc.config || typeof doc.config !== "object" || Object.keys(doc.config).length === 0) {
    throw new Error(`${path} has no config: a stack file needs a \`config:\` map with redis-cluster:<key> settings (see Pulumi.dev.yaml)`);
  }
  const raw: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(doc?.config ?? {})) {
    // Secure values (`password: {secure: ...}`) are encrypted for Pulumi; locally a password comes from the environment.
    if (k.startsWith(`${PROJECT}:`) && k !== `${PROJECT}:password`) raw[k.slice(PROJECT.length + 1)] = v;
  }
  return validateConfig({ ...raw, ...overrides }, { name });
}

/**
 * The validated spec of a stack, read from Pulumi.<stack>.yaml, for running that stack's plan locally without Docker
 * or Kubernetes.
 */
export function loadStackSpec(stack = "dev"): ClusterSpec {
  return loadStackSpecFile(join(ROOT, `Pulumi.${stack}.yaml`), `${PROJECT}-${stack}`);
}
