// The test engine itself, on small programs: it must reject what the real engine rejects and keep preview's
// unknowns, or the stack tests built on it could pass for the wrong reason.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, EXIT_LOGGED_ERROR, type ConfigInput, type ProviderStep, type RemoveStep, type RunResult } from "../../../testbed/engine/engine";
import { UNKNOWN, isSecret, unwrapSecrets } from "../../../testbed/engine/values";

const NEW_STACK = { stack: "engine-selftest", stackConfig: {} };
let duplicate: RunResult;
let badTimeout: RunResult;
let preview: RunResult;
let up: RunResult;

let again: RunResult;
let third: RunResult;

before(async () => {
  // Independent runs together: the two refused ones spend most of their time idle (the engine waits before it stops a
  // failed deployment), which the other two fill.
  [duplicate, badTimeout, preview, up] = await Promise.all([
    runProgram({ ...NEW_STACK, mode: "up", program: "test/testbed/engine/fixtures/duplicate-urn.ts" }),
    runProgram({ ...NEW_STACK, mode: "up", program: "test/testbed/engine/fixtures/bad-timeout.ts" }),
    runProgram({ ...NEW_STACK, mode: "preview", program: "testbed/engine/programs/one-resource.ts", config: { note: "hello" } }),
    runProgram({ ...NEW_STACK, mode: "up", program: "testbed/engine/programs/one-resource.ts", config: { note: "hello" } }),
  ]);
  // Both against the first up's state: a second up, and a preview of a state whose input differs.
  const changed = structuredClone(up.state);
  changed.resources.find((r) => r.urn.endsWith("::pw"))!.inputs.length = 12;
  [again, third] = await Promise.all([
    runProgram({ ...NEW_STACK, mode: "up", program: "testbed/engine/programs/one-resource.ts", config: { note: "hello" }, priorState: up.state }),
    runProgram({ ...NEW_STACK, mode: "preview", program: "testbed/engine/programs/one-resource.ts", priorState: changed }),
  ]);
});

test("a duplicate URN fails the run with the engine's message", () => {
  assert.equal(duplicate.ok, false);
  assert.equal(duplicate.exitCode, EXIT_LOGGED_ERROR);
  assert.match(duplicate.errors[0], /^Duplicate resource URN 'urn:pulumi:engine-selftest::redis-cluster::fixture:index:Thing::same'; try giving it a unique name$/);
  assert.equal(duplicate.resources.filter((r) => r.name === "same").length, 1);
});

test("a custom timeout that is not a Go duration is refused and the run stops", () => {
  assert.equal(badTimeout.ok, false);
  assert.match(badTimeout.errors[0], /unable to parse customTimeouts\.create: time: invalid duration "10 minutes"/);
});

test("preview: an output that exists only after create is unknown and its apply does not run; up: it runs", () => {
  assert.equal(preview.exitCode, 0, preview.errors.join("\n"));
  assert.equal(preview.outputs.seen, UNKNOWN);
  assert.ok(!preview.logs.some((l) => l.message.includes("apply ran")), "apply ran during preview");
  assert.equal(up.exitCode, 0, up.errors.join("\n"));
  assert.ok(up.logs.some((l) => l.message === "apply ran with 20 characters"));
  // random's result is an additional secret output: the engine keeps it secret, so is what derives from it.
  const pw = up.resources.find((r) => r.name === "pw")!;
  assert.ok(isSecret(pw.outputs.result));
  assert.ok(isSecret(up.outputs.seen));
  assert.equal(unwrapSecrets(up.outputs.seen), 20);
  // Config reaches the program as the language host hands it over.
  assert.equal(up.outputs.config, "hello");
  assert.equal(up.config["redis-cluster:note"], "hello");
});

test("a second up against the saved state reports the resource unchanged with its old outputs", () => {
  assert.equal(again.exitCode, 0, again.errors.join("\n"));
  assert.deepEqual(again.resources.filter((r) => r.op !== "same").map((r) => r.name), []);
  assert.deepEqual(again.resources.find((r) => r.name === "pw")!.outputs, up.resources.find((r) => r.name === "pw")!.outputs);
  // A changed input is seen: random replaces on any change.
  assert.deepEqual(third.resources.filter((r) => r.op !== "same").map((r) => `${r.name}:${r.op}`), ["pw:replace"]);
});

// ---- what the engine performs: secretness, replacement knowledge, step order ----

const fixture = (name: string) => `test/testbed/engine/fixtures/${name}.ts`;

interface SecretCase {
  name: string;
  /** How the provider answers: outputs that carry the inputs' values plain, as a real provider's do. */
  run: () => Promise<RunResult>;
}
const SECRET_CASES: SecretCase[] = [
  {
    name: "a provider (the hook the Docker and pods runners use)",
    run: () =>
      runProgram({
        ...NEW_STACK,
        mode: "up",
        program: fixture("secret-inputs"),
        provider: async (step) => ({ id: "id-1", outputs: { ...unwrapSecrets(step.inputs), hex: "abcd" } }),
      }),
  },
  {
    name: "the engine's own outputs, overridden plain",
    run: () => runProgram({ ...NEW_STACK, mode: "up", program: fixture("secret-inputs"), outputOverrides: { id: { prefix: "p-", keepers: { token: "t", plain: "x" }, hex: "abcd" } } }),
  },
];

for (const c of SECRET_CASES) {
  test(`an output whose input was secret is secret in outputs and state (${c.name})`, async () => {
    const r = await c.run();
    assert.equal(r.exitCode, 0, r.errors.join("\n"));
    const outs = r.resources.find((x) => x.name === "id")!.outputs;
    assert.ok(isSecret(outs.prefix), "a secret input of the same key");
    assert.ok(isSecret(outs.keepers.token), "objects are matched key by key");
    assert.equal(outs.keepers.plain, "x", "a plain key beside a secret one stays plain");
    assert.equal(outs.hex, "abcd", "an output with no such input stays plain");
    assert.ok(isSecret(r.state.resources.find((x) => x.urn.endsWith("::id"))!.outputs.prefix), "the state keeps it secret");
    assert.ok(isSecret(r.outputs.prefix), "what derives from it in the program is secret");
  });
}

interface PlanCase {
  provider: string;
  /** Config of the second run; the first runs with the program's defaults. */
  config: Record<string, string | number | boolean>;
  /** Steps the second run plans, by resource name (resources not listed are unchanged). */
  ops: Record<string, string>;
}
const PLAN_CASES: PlanCase[] = [
  // @pulumi/tls: every input but earlyRenewalHours requires a new key or certificate.
  { provider: "tls", config: { validity: 48, renewal: 5 }, ops: { "cert-validity": "replace", "cert-renewal": "update" } },
  // @pulumi/docker: ForceNew inputs replace; restart, healthcheck, keepLocally are changed in place.
  {
    provider: "docker",
    config: { restart: "always", interval: "2s", command: "redis-sentinel", keepLocally: false, volume: "other-data" },
    ops: { image: "update", volume: "replace", "c-restart": "update", "c-health": "update", "c-command": "replace" },
  },
];

test("the engine plans replace for the inputs a provider cannot change in place, update for the rest", async () => {
  const first = await runProgram({ ...NEW_STACK, mode: "up", program: fixture("replacements") });
  assert.equal(first.exitCode, 0, first.errors.join("\n"));
  const runs = await Promise.all(PLAN_CASES.map((c) => runProgram({ ...NEW_STACK, mode: "preview", program: fixture("replacements"), priorState: first.state, config: c.config })));
  PLAN_CASES.forEach((c, i) => {
    assert.equal(runs[i].exitCode, 0, runs[i].errors.join("\n"));
    const planned = Object.fromEntries(runs[i].resources.filter((r) => r.custom && r.op !== "same").map((r) => [r.name, r.op]));
    assert.deepEqual(planned, c.ops, c.provider);
  });
});

/** A provider with Docker's one rule that matters here: a container name exists once. */
function namedProvider() {
  const names = new Map<string, string>(); // name -> id
  const steps: string[] = [];
  let next = 0;
  return {
    steps,
    names,
    provider: async (step: ProviderStep) => {
      const name = unwrapSecrets(step.inputs).name as string;
      if (names.has(name)) throw new Error(`Conflict. The container name "/${name}" is already in use by container "${names.get(name)}"`);
      const id = `c${++next}`;
      names.set(name, id);
      steps.push(`create ${step.name} ${id}`);
      return { id, outputs: unwrapSecrets(step.inputs) };
    },
    remove: async (step: RemoveStep) => {
      names.delete(step.prior.outputs.name);
      steps.push(`delete ${step.name} ${step.prior.id} (${step.reason})`);
    },
  };
}

test("delete-before-replace deletes first; without it the new one is created first, the old deleted after the program", async () => {
  const p = namedProvider();
  const run = (config: Record<string, ConfigInput>, priorState?: RunResult["state"]) =>
    runProgram({ ...NEW_STACK, mode: "up", program: fixture("fixed-names"), config, priorState, provider: p.provider, remove: p.remove });
  const first = await run({});
  assert.equal(first.exitCode, 0, first.errors.join("\n"));
  p.steps.length = 0;
  const second = await run({ tag: "7.2.6" }, first.state);
  assert.ok(second.ok, second.errors.join("\n"));
  // The program registers both at once: the order is per resource, and the deletion phase comes last.
  const of = (name: string) => p.steps.filter((s) => s.split(" ")[1] === name).map((s) => s.replace(/ c\d+/, ""));
  assert.deepEqual(of("fixed-dbr"), ["delete fixed-dbr (replace)", "create fixed-dbr"]);
  assert.deepEqual(of("named-by-tag"), ["create named-by-tag", "delete named-by-tag (replace)"]);
  assert.equal(p.steps.at(-1)!.replace(/ c\d+/, ""), "delete named-by-tag (replace)");
  assert.deepEqual([...p.names.keys()].sort(), ["fixed-dbr", "named-7.2.6"]);
  assert.equal(second.resources.find((r) => r.name === "fixed-dbr")!.deleteBeforeReplace, true);
  assert.equal(second.resources.find((r) => r.name === "named-by-tag")!.deleteBeforeReplace, false);
});

test("a fixed-name resource without deleteBeforeReplace fails its replacement as in prod", async () => {
  const p = namedProvider();
  const first = await runProgram({ ...NEW_STACK, mode: "up", program: fixture("fixed-names"), config: { withoutDbr: true }, provider: p.provider, remove: p.remove });
  assert.equal(first.exitCode, 0, first.errors.join("\n"));
  const second = await runProgram({
    ...NEW_STACK, mode: "up", program: fixture("fixed-names"), config: { withoutDbr: true, tag: "7.2.6" }, priorState: first.state, provider: p.provider, remove: p.remove,
  });
  assert.equal(second.ok, false);
  assert.match(second.errors.join("\n"), /fixed-no-dbr: Conflict\. The container name "\/fixed-no-dbr" is already in use/);
  assert.doesNotMatch(second.errors.join("\n"), /fixed-dbr:/, "the one with deleteBeforeReplace is replaced");
  assert.ok(!p.steps.some((s) => s.startsWith("delete named-by-tag")), "a failed run deletes no replaced resource");
});

test("a StackReference to the stack itself reads its last outputs (secrets stay secret); another stack is refused", async () => {
  const run = (priorState?: RunResult["state"], config: Record<string, ConfigInput> = {}) =>
    runProgram({ ...NEW_STACK, mode: "up", program: fixture("stack-reference"), config, priorState });
  const first = await run();
  assert.equal(first.exitCode, 0, first.errors.join("\n"));
  assert.deepEqual([first.outputs.count, first.outputs.sawToken], [1, "none"], "a first deployment has no outputs");
  const read = first.resources.find((r) => r.name === "self")!;
  assert.equal(read.op, "read");
  assert.ok(!first.state.resources.some((r) => r.type === "pulumi:pulumi:StackReference"), "a read is not kept in the state");
  const second = await run(first.state);
  assert.deepEqual([second.outputs.count, second.outputs.sawToken], [2, "secret:t-1"]);
  // A preview reads them too (a read runs in a preview).
  const preview = await runProgram({ ...NEW_STACK, mode: "preview", program: fixture("stack-reference"), priorState: second.state });
  assert.equal(preview.outputs.count, 3);
  // A failed up keeps the last outputs (the program registers none): the next run counts on from them.
  const failed = await run(second.state, { fail: true });
  assert.equal(failed.ok, false);
  const after = await run(failed.state);
  assert.equal(after.outputs.count, 3, after.errors.join("\n"));
  // The bare stack name is this project's stack (a legacy DIY backend's only form: lastDeploymentStack).
  const bare = await run(second.state, { other: "engine-selftest" });
  assert.equal(bare.outputs.count, 3, bare.errors.join("\n"));
  const other = await run(first.state, { other: "organization/redis-cluster/elsewhere" });
  assert.equal(other.ok, false);
  assert.match(other.errors.join("\n"), /reads no stack but the one it runs: StackReference self names organization\/redis-cluster\/elsewhere/);
});
