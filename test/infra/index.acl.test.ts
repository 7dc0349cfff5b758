// ACL users in the prod program through the test engine (Pulumi's own runtime), as `pulumi up -s prod` runs it:
// configured and generated passwords reach only Secrets and secret outputs; the pods load the ACL file from a Secret;
// the exporter and smoke test run as their users; the rotation Jobs bracket the roll (add before the StatefulSet,
// remove after the bootstrap and before the smoke test); a changed password re-runs both and changes the pods' Secret;
// the passwords a rotation retired reach the smoke Job's old-passwords check through their own auto-named Secret.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, type RunResult } from "../../testbed/engine/engine";
import { isSecret, plainStrings, unwrapSecrets } from "../../testbed/engine/values";
import { readStackFile } from "../helpers/stackConfig";

const ADMIN = "prodAdminPassword-0123456789";
const SMOKE = "prodSmokePassword-0123456789";
const APP = "ordersAppPassword-0123456789";
const k8sConfig = readStackFile("prod")["redis-cluster:kubernetes"] as Record<string, unknown>;
const acl = (smoke: string) => ({
  secret: JSON.stringify({ passwords: { smoke }, users: [{ name: "orders", keys: ["orders:*"], commands: ["+@read", "+@write", "-@dangerous"], password: APP }] }),
});
const config = (smoke: string) => ({
  password: { secret: ADMIN },
  "redis-cluster:acl": acl(smoke),
  "redis-cluster:kubernetes": { ...k8sConfig, context: "prod-admin@redis-prod" },
});
let up: RunResult;
let rotated: RunResult;
let rotatedUp: RunResult;

const byName = (r: RunResult, name: string) => r.resources.find((x) => x.name === name && x.custom);
const of = (r: RunResult, type: string) => r.resources.filter((x) => x.type === type);

before(async () => {
  up = await runProgram({ stack: "prod", mode: "up", config: config(SMOKE), timeoutMs: 300_000 });
  assert.equal(up.exitCode, 0, up.errors.join("\n"));
  // The rotation as preview (what CI shows) and as up: only an up runs the password history's update, so only it
  // puts a retired password (the old smoke one) in the retired-passwords Secret.
  [rotated, rotatedUp] = await Promise.all([
    runProgram({ stack: "prod", mode: "preview", config: config("prodSmokePassword-rotated-000"), priorState: up.state, timeoutMs: 300_000 }),
    runProgram({ stack: "prod", mode: "up", config: config("prodSmokePassword-rotated-000"), priorState: up.state, timeoutMs: 300_000 }),
  ]);
  assert.equal(rotated.exitCode, 0, rotated.errors.join("\n"));
  assert.equal(rotatedUp.exitCode, 0, rotatedUp.errors.join("\n"));
});

test("no password in any plain input; each user's password only in Secrets and secret outputs", () => {
  for (const r of up.resources) {
    for (const pw of [ADMIN, SMOKE, APP]) assert.ok(!plainStrings(r.inputs).some((s) => s.includes(pw)), `${r.type} ${r.name} has a password in a plain input`);
  }
  assert.ok(isSecret(up.outputs.aclPasswords));
  const pws = unwrapSecrets<Record<string, string>>(up.outputs.aclPasswords);
  assert.equal(pws.smoke, SMOKE);
  assert.equal(pws.orders, APP);
  assert.equal(pws.admin, ADMIN, "the single `password` config stays admin's");
  assert.deepEqual(Object.keys(unwrapSecrets(up.outputs.aclSecretNames)).sort(), ["exporter", "orders", "replica", "smoke"]);
  // Generated for the users without a configured password.
  assert.equal(of(up, "random:index/randomPassword:RandomPassword").filter((r) => /-(replica|exporter)-password$/.test(r.name)).length, 2);
});

test("the ACL Secret holds hashes only, default off; pods load it; exporter and smoke run as their users", () => {
  const aclSecret = byName(up, "redis-cluster-prod-acl")!;
  const text = unwrapSecrets<Record<string, string>>(aclSecret.inputs.stringData)["users.acl"];
  assert.ok(isSecret(aclSecret.inputs.stringData) || isSecret(aclSecret.inputs.stringData["users.acl"]), "the ACL Secret's data is a secret input");
  assert.match(text, /^user default off /m);
  for (const pw of [ADMIN, SMOKE, APP]) assert.ok(!text.includes(pw));
  const sts = of(up, "kubernetes:apps/v1:StatefulSet")[0];
  const [redis, exporter] = unwrapSecrets<any[]>(sts.inputs.spec.template.spec.containers);
  const env = (c: any) => Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
  assert.equal(env(redis).REDIS_ACL_FILE, "/etc/redis-cluster-acl/users.acl");
  assert.equal(env(redis).REDIS_MASTERUSER, "replica");
  assert.equal(env(redis).REDIS_USER, "admin", "probes and preStop run as admin");
  assert.equal(env(exporter).REDIS_USER, "exporter");
  assert.equal(env(exporter).REDIS_EXPORTER_CONFIG_COMMAND, "-");
  const smokeJob = of(up, "kubernetes:batch/v1:Job").find((j) => j.name.endsWith("smoke-job"))!;
  const smokeEnv = env(unwrapSecrets<any>(smokeJob.inputs.spec.template.spec.containers[0]));
  assert.equal(smokeEnv.REDIS_USER, "smoke");
  assert.equal(smokeEnv.REDIS_SMOKE_PASSWORD.secretKeyRef.name, unwrapSecrets<Record<string, string>>(up.outputs.aclSecretNames).smoke);
});

test("rotation Jobs: add before the StatefulSet, remove after the bootstrap and before the smoke test", () => {
  const add = byName(up, "redis-cluster-prod-rotate-add")!;
  const remove = byName(up, "redis-cluster-prod-rotate-remove")!;
  const sts = of(up, "kubernetes:apps/v1:StatefulSet")[0];
  const bootstrap = byName(up, "redis-cluster-prod-bootstrap")!;
  const smoke = of(up, "kubernetes:batch/v1:Job").find((j) => j.name.endsWith("smoke-job"))!;
  assert.ok(sts.options.dependsOn.includes(add.urn), "StatefulSet waits for rotate add");
  const dependsOnTransitively = (from: string, to: string, seen = new Set<string>()): boolean => {
    if (from === to) return true;
    if (seen.has(from)) return false;
    seen.add(from);
    const r = up.resources.find((x) => x.urn === from);
    return !!r && [...(r.options.dependsOn ?? []), ...(r.options.parent ? [] : [])].some((d: string) => dependsOnTransitively(d, to, seen));
  };
  assert.ok(dependsOnTransitively(remove.urn, bootstrap.urn), "remove runs after the bootstrap");
  assert.ok(smoke.options.dependsOn.includes(remove.urn), "smoke runs after remove");
  const cmd = (j: typeof add) => unwrapSecrets<any>(j.inputs.spec.template.spec.containers[0]).command;
  assert.deepEqual(cmd(add).slice(-2), ["/etc/redis-cluster/rotate.sh", "add"]);
  assert.deepEqual(cmd(remove).slice(-2), ["/etc/redis-cluster/rotate.sh", "remove"]);
});

test("a changed password: new Secrets, both rotation Jobs re-run, the pods roll to the new ACL Secret", () => {
  const op = (name: string) => byName(rotated, name)?.op;
  assert.equal(op("redis-cluster-prod-acl"), "replace");
  assert.equal(op("redis-cluster-prod-user-smoke"), "replace");
  assert.equal(op("redis-cluster-prod-rotate-add"), "replace");
  assert.equal(op("redis-cluster-prod-rotate-remove"), "replace");
  assert.equal(of(rotated, "kubernetes:apps/v1:StatefulSet")[0].op, "update");
  assert.equal(op("redis-cluster-prod-user-exporter"), "same", "an unchanged user keeps its Secret");
});

// The smoke Job's old-passwords check reads the passwords the last rotation retired from their own Secret
// (infra/components/kubernetesCluster.ts `-acl-retired`, smokeTest.ts REDIS_RETIRED_PASSWORDS).
const RETIRED = "redis-cluster-prod-acl-retired";
const smokeJob = (r: RunResult) => of(r, "kubernetes:batch/v1:Job").find((j) => j.name.endsWith("smoke-job"))!;
const retiredRef = (r: RunResult) =>
  unwrapSecrets<any>(smokeJob(r).inputs.spec.template.spec.containers[0]).env.find((e: any) => e.name === "REDIS_RETIRED_PASSWORDS")?.valueFrom?.secretKeyRef;

test("retired passwords: an auto-named Secret (secret data) that the smoke Job reads through secretKeyRef", () => {
  const s = byName(up, RETIRED);
  assert.ok(s, `${RETIRED} declared`);
  assert.equal(s.type, "kubernetes:core/v1:Secret");
  // Auto-named: the program sets no metadata.name, so the engine (as pulumi-kubernetes) appends a suffix; a fixed name
  // would keep the smoke Job's reference unchanged across a rotation, and the Job would not run again.
  assert.match(s.outputs.metadata.name, new RegExp(`^${RETIRED}-[0-9a-f]{8}$`));
  // @pulumi/kubernetes marks a Secret's stringData secret itself: these hold as long as the passwords go to a Secret's
  // data; the plain-string scan after the rotation below catches them anywhere else (an annotation, an env value).
  assert.ok(isSecret(s.inputs.stringData) || isSecret(s.inputs.stringData["retired.json"]), "stringData is a secret input");
  assert.ok(isSecret(s.outputs.stringData) || isSecret(s.outputs.stringData["retired.json"]), "stringData is secret in state");
  assert.equal(unwrapSecrets(s.inputs.stringData)["retired.json"], "{}", "first deploy: nothing retired yet");
  assert.deepEqual(retiredRef(up), { name: s.outputs.metadata.name, key: "retired.json" });
});

test("retired passwords after a rotation: the old smoke password only as a secret, a new Secret, the smoke Job re-runs", () => {
  // up: the retired Secret now holds the password the rotation replaced, and nowhere is it plain (inputs or state).
  const s = byName(rotatedUp, RETIRED)!;
  assert.deepEqual(JSON.parse(unwrapSecrets(s.inputs.stringData)["retired.json"]), { smoke: [SMOKE] });
  for (const r of rotatedUp.resources) {
    for (const [what, v] of [["input", r.inputs], ["output", r.outputs]] as const) {
      assert.ok(!plainStrings(v).some((x) => x.includes(SMOKE)), `${r.type} ${r.name} has the retired password in a plain ${what}`);
    }
  }
  assert.ok(!plainStrings(rotatedUp.outputs).some((x) => x.includes(SMOKE)), "a stack output holds the retired password in plain text");
  assert.equal(s.op, "replace");
  assert.notEqual(s.outputs.metadata.name, byName(up, RETIRED)!.outputs.metadata.name, "a new name");
  assert.deepEqual(retiredRef(rotatedUp), { name: s.outputs.metadata.name, key: "retired.json" });
  assert.equal(smokeJob(rotatedUp).op, "replace", "the smoke Job runs again and checks the retired password is refused");
  // preview (CI): the same replacement is planned before anything changed.
  assert.equal(byName(rotated, RETIRED)!.op, "replace");
  assert.equal(smokeJob(rotated).op, "replace");
});
