import { readFileSync } from "node:fs";
import { basename, join } from "node:path";

// The shell scripts ship as files so shellcheck and the local harness use exactly what the containers run.
const dir = join(__dirname, "..", "scripts");

export const scriptPaths = {
  entrypoint: join(dir, "entrypoint.sh"),
  bootstrap: join(dir, "bootstrap.sh"),
  /** Kubernetes entrypoint hook: rewrites own and peer addresses in nodes.conf from the pods' stable DNS names. */
  refreshPeers: join(dir, "refresh-peers.sh"),
  /** Kubernetes preStop: a master hands over to its most up-to-date replica. */
  prestop: join(dir, "prestop.sh"),
  /** Kubernetes startup/liveness (`alive`) and readiness (`ready`) probe. */
  probe: join(dir, "probe.sh"),
  /** ACL password rotation on the live nodes: `add` new passwords, later `remove` old ones. */
  rotate: join(dir, "rotate.sh"),
  /** Certificate renewal without a restart: every live node re-reads its TLS files (CONFIG SET). */
  tlsReload: join(dir, "tls-reload.sh"),
  /** The functions the others source (logging, redis-cli calls, INFO fields, password, deadlines); never run itself. */
  lib: join(dir, "lib.sh"),
} as const;

export type ScriptName = keyof typeof scriptPaths;

export function readScript(name: ScriptName): string {
  return readFileSync(scriptPaths[name], "utf8");
}

/**
 * The files a script sources from its own folder, by name: each `. "<dir>/<file>.sh"` line (the sourced path ends in
 * a literal file name; a path that is all variable, as entrypoint.sh's hook, names none).
 */
export function sourcedFiles(script: string): string[] {
  return [...script.matchAll(/^\s*\.\s+"[^"\n]*\/([\w.-]+\.sh)"/gm)].map((m) => m[1]);
}

/**
 * The files to ship for these scripts, file name -> content, together with whatever they source (they run from one
 * folder: a ConfigMap volume, a container's upload directory or infra/scripts itself). Components ship scripts only
 * through this, so a script's companions always travel with it.
 */
export function scriptFiles(...names: ScriptName[]): Record<string, string> {
  const files: Record<string, string> = {};
  const add = (file: string, content: string): void => {
    if (file in files) return;
    files[file] = content;
    for (const s of sourcedFiles(content)) add(s, readFileSync(join(dir, s), "utf8"));
  };
  for (const n of names) add(basename(scriptPaths[n]), readScript(n));
  return files;
}

/** Every script either platform ships, with what they source (lib.sh): the list derives from scriptPaths. */
export function shippedScripts(): Record<string, string> {
  return scriptFiles(...(Object.keys(scriptPaths) as ScriptName[]));
}
