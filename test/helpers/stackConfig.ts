import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

export const ROOT = join(__dirname, "..", "..");

/** The `config:` map of Pulumi.<stack>.yaml, keys as written ("redis-cluster:masters"). */
export function readStackFile(stack: string): Record<string, unknown> {
  const doc = parse(readFileSync(join(ROOT, `Pulumi.${stack}.yaml`), "utf8")) as { config?: Record<string, unknown> };
  return doc.config ?? {};
}

/** Raw config for validateConfig: project keys without the prefix. */
export function rawProjectConfig(stack: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(readStackFile(stack))) {
    if (k.startsWith("redis-cluster:")) out[k.slice("redis-cluster:".length)] = v;
  }
  return out;
}

/** Config as the Pulumi engine hands it to the program: every value a string, objects as JSON. */
export function engineConfig(stack: string, extra: Record<string, unknown> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries({ ...readStackFile(stack), ...extra })) {
    out[k] = typeof v === "string" ? v : JSON.stringify(v);
  }
  return out;
}
