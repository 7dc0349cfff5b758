// promtool in a scratch directory of the test file: made before its tests, removed after them (even when they fail).
import { after, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PromtoolWorkspace {
  /** The scratch directory (set once the file's tests start). */
  readonly dir: string;
  /** promtool with `args`, run in the directory; a missing binary fails the test with how to install it. */
  run(args: string[]): { status: number | null; out: string };
}

export function promtoolWorkspace(prefix: string, timeoutMs: number): PromtoolWorkspace {
  let dir = "";
  before(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    run(args) {
      const r = spawnSync("promtool", args, { encoding: "utf8", cwd: dir, timeout: timeoutMs });
      if (r.error) assert.fail(`promtool: ${r.error.message} (install with: npm run setup:system)`);
      return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
    },
  };
}
