import { readFileSync } from "node:fs";
import { join } from "node:path";

// The shell scripts ship as files so shellcheck and the local harness use exactly what the containers run.
const dir = join(__dirname, "..", "scripts");

export const scriptPaths = {
  entrypoint: join(dir, "entrypoint.sh"),
  bootstrap: join(dir, "bootstrap.sh"),
} as const;

export function readScript(name: keyof typeof scriptPaths): string {
  return readFileSync(scriptPaths[name], "utf8");
}
