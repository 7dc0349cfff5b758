// The applier refuses what it does not implement before it calls the engine (no daemon needed here), and converts
// the provider's argument forms (durations, secrets) the way the Docker tests rely on.
import { test } from "node:test";
import assert from "node:assert/strict";
import type Docker from "dockerode";
import { Unemulated } from "../../../testbed/refuse";
import { DockerApplier, durationNs, plain, TYPES } from "../../../testbed/docker/applier";

// Any call to the engine fails the test: refusals must come first.
const noEngine = new Proxy({}, { get: (_t, k) => () => assert.fail(`the engine was called (${String(k)}) before the arguments were checked`) }) as unknown as Docker;
const applier = new DockerApplier(noEngine);
const base = { name: "c", image: "sha256:x" };

test("a Container argument the applier does not implement fails the step, naming it", async () => {
  await assert.rejects(applier.create(TYPES.container, "c", { ...base, privileged: true }), /Container c sets 'privileged', which the Docker applier does not implement/);
  await assert.rejects(applier.create(TYPES.container, "c", { ...base, uploads: [{ file: "/a", source: "/etc/passwd" }] }), /uploads sets 'source'/);
  await assert.rejects(applier.create(TYPES.container, "c", { ...base, networksAdvanced: [{ name: "n", ipv6Address: "::1" }] }), /networksAdvanced sets 'ipv6Address'/);
  await assert.rejects(applier.create(TYPES.container, "c", { ...base, volumes: [{ hostPath: "/", containerPath: "/h" }] }), /volumes sets 'hostPath'/);
  await assert.rejects(applier.create(TYPES.container, "c", { ...base, healthcheck: { tests: ["NONE"], startInterval: "1s" } }), /healthcheck sets 'startInterval'/);
  await assert.rejects(applier.create(TYPES.container, "c", { ...base, restart: "sometimes" }), /restart 'sometimes'/);
});

test("other resource types: unknown arguments and unknown types are refused", async () => {
  await assert.rejects(applier.create(TYPES.network, "n", { name: "n", internal: true }), /Network sets 'internal'/);
  await assert.rejects(applier.create(TYPES.volume, "v", { name: "v", driver: "nfs" }), /Volume sets 'driver'/);
  await assert.rejects(applier.create(TYPES.volume, "v", { name: "v", driver: "nfs" }), Unemulated, "the testbed's one refusal (testbed/refuse.ts)");
  await assert.rejects(applier.create(TYPES.image, "i", { name: "redis", forceRemove: true }), /RemoteImage sets 'forceRemove'/);
  await assert.rejects(applier.create(TYPES.command, "s", { create: "true", interpreter: ["bash"] }), /Command s sets 'interpreter'/);
  await assert.rejects(applier.create(TYPES.password, "p", { length: 8, special: true }), /special: false only/);
  await assert.rejects(applier.create("docker:index/service:Service", "s", {}), /docker:index\/service:Service \(s\) is not implemented/);
});

test("numeric owners only: a user name would be resolved on the Pulumi host, not in the image", async () => {
  // The owner check runs when the upload is packed, after the container exists: use a fake engine for that path.
  const calls: string[] = [];
  const container = { putArchive: async () => calls.push("putArchive"), start: async () => undefined, remove: async () => calls.push("remove") };
  const fake = { createContainer: async () => ({ id: "id" }), getContainer: () => container } as unknown as Docker;
  await assert.rejects(
    new DockerApplier(fake).create(TYPES.container, "c", { ...base, uploads: [{ file: "/p", content: "x", owner: "redis" }] }),
    /owner 'redis' is not numeric/,
  );
  assert.deepEqual(calls, ["remove"], "nothing uploaded; the half-made container removed");
});

test("Docker durations and Pulumi secrets", () => {
  assert.equal(durationNs("2s"), 2e9);
  assert.equal(durationNs("1m30s"), 90e9);
  assert.equal(durationNs("500ms"), 5e8);
  assert.equal(durationNs(undefined), undefined);
  assert.throws(() => durationNs("2 seconds"), /not a duration/);
  const sig = "4dabf18193072939515e22adb298388d";
  assert.deepEqual(plain({ a: { [sig]: "1b47061264138c4ac30d75fd1eb44270", value: ["x", { [sig]: "x", value: 1 }] }, b: undefined }), { a: ["x", 1] });
});
