// The test engine itself, on small programs: it must reject what the real engine rejects and keep preview's
// unknowns, or the stack tests built on it could pass for the wrong reason.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, EXIT_LOGGED_ERROR, type RunResult } from "../../../testbed/engine/engine";
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
