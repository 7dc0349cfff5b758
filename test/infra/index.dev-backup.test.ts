// The dev stack with backup.enabled and monitoring on, through the test engine (preview, as `pulumi preview -s dev`):
// the backup run pushes to the dev Pushgateway container, so it must come after it, on the first `up` too. Read from
// the dependencies the program registers (explicit dependsOn, components expanded to their children by the SDK).
import { test } from "node:test";
import assert from "node:assert/strict";
import { runProgram, type RunResult } from "../../testbed/engine/engine";

/** Every resource `urn` waits for, directly or through what it waits for (and through its parents' dependencies). */
function waitsFor(r: RunResult, urn: string): Set<string> {
  const byUrn = new Map(r.resources.map((x) => [x.urn, x]));
  const seen = new Set<string>();
  const todo = [urn];
  for (let i = 0; todo.length && i < 100_000; i++) {
    const x = byUrn.get(todo.pop()!);
    for (const d of [...(x?.options.dependsOn ?? []), ...Object.values(x?.options.propertyDependencies ?? {}).flat()]) {
      if (!seen.has(d)) {
        seen.add(d);
        todo.push(d);
      }
    }
  }
  return seen;
}

test("backup.enabled with monitoring: the backup run waits for the Pushgateway container it pushes to", { timeout: 120_000 }, async () => {
  const backup = { enabled: true, repository: "/var/backups/redis-dev-test", password: "dev-backup-repo-password" };
  const r = await runProgram({ stack: "dev", mode: "preview", config: { "redis-cluster:backup": { secret: JSON.stringify(backup) }, "redis-cluster:monitoring": { enabled: true } } });
  assert.equal(r.exitCode, 0, r.errors.join("\n"));
  const run = r.resources.find((x) => x.type === "command:local:Command" && x.name === "redis-cluster-dev-backup");
  const pushgateway = r.resources.find((x) => x.type === "docker:index/container:Container" && x.name === "redis-cluster-dev-pushgateway");
  assert.ok(run && pushgateway, r.resources.map((x) => x.name).join(", "));
  assert.ok(JSON.stringify(run.inputs).includes("--pushgateway"), "the backup run pushes");
  assert.ok(waitsFor(r, run.urn).has(pushgateway.urn), "the backup run may start before the Pushgateway container exists");
});
