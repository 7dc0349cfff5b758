import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { validateConfig } from "../../../infra/config/schema";
import { ACL_PATHS, aclUsers, passwordHash, passwordUsers, renderAclFile, rotateEnv, smokeRules } from "../../../infra/plan/acl";
import { TLS_CLIENT_FILES } from "../../../infra/plan/tls";

const users = [{ name: "orders", keys: ["orders:*"], commands: ["+@read", "+@write", "-@dangerous"], password: "orders-password-0123456789" }];

test("ACL users: on by default for kubernetes, off for docker (dev keeps the one shared password)", () => {
  assert.equal(validateConfig({ platform: "kubernetes" }).acl.enabled, true);
  assert.equal(validateConfig({}).acl.enabled, false);
  assert.equal(validateConfig({ acl: { enabled: true } }).acl.enabled, true);
});

test("default user: off on kubernetes, admin on docker (dev), configurable", () => {
  assert.equal(validateConfig({ platform: "kubernetes" }).acl.defaultUser, "off");
  assert.equal(validateConfig({}).acl.defaultUser, "admin");
  assert.equal(validateConfig({ acl: { defaultUser: "off" } }).acl.defaultUser, "off");
});

test("the spec keeps no password of an application user", () => {
  const spec = validateConfig({ acl: { users } });
  assert.doesNotMatch(JSON.stringify(spec), /orders-password/);
  assert.deepEqual(spec.acl.users, [{ name: "orders", keys: ["orders:*"], channels: [], commands: ["+@read", "+@write", "-@dangerous"], passwordProvided: true }]);
});

test("bad application users are refused with the setting named, never echoing a password", () => {
  const bad = (acl: unknown) => {
    try {
      validateConfig({ acl });
    } catch (e) {
      return (e as Error).message;
    }
    assert.fail("accepted");
  };
  assert.match(bad({ users: [{ ...users[0], name: "admin" }] }), /acl\.users\.0\.name.*reserved/);
  assert.match(bad({ users: [users[0], users[0]] }), /acl\.users.*unique/);
  assert.match(bad({ users: [{ ...users[0], commands: ["+@read rm"] }] }), /acl\.users\.0\.commands\.0/);
  assert.match(bad({ users: [{ ...users[0], keys: ["a b"] }] }), /acl\.users\.0\.keys\.0/);
  const msg = bad({ users: [{ ...users[0], password: "short pw" }] });
  assert.match(msg, /acl\.users\.0\.password/);
  assert.doesNotMatch(msg, /short pw/);
  assert.doesNotMatch(bad({ passwords: { replica: "x y" } }), /x y/);
});

test("ACL file: hashes only, default off in prod, every user with its rules", () => {
  const spec = validateConfig({ platform: "kubernetes", acl: { users } });
  const pw = Object.fromEntries(passwordUsers(spec).map((u) => [u, [`${u}-secret-password-000`]]));
  const text = renderAclFile(aclUsers(spec), pw);
  const lines = text.trim().split("\n");
  assert.ok(lines.every((l) => l.startsWith("user ")), "Redis refuses any other line");
  assert.equal(lines[0], "user default off resetkeys resetchannels -@all");
  assert.doesNotMatch(text, /secret-password/);
  assert.ok(text.includes(`user admin on #${createHash("sha256").update("admin-secret-password-000").digest("hex")} ~* &* +@all`));
  assert.match(text, /^user replica on #\w{64} resetkeys resetchannels -@all \+psync \+replconf \+ping$/m);
  assert.match(text, /^user exporter on #\w{64} resetkeys resetchannels -@all .*\+info/m);
  assert.doesNotMatch(lines.find((l) => l.startsWith("user exporter"))!, /config/);
  assert.match(text, /^user orders on #\w{64} ~orders:\* resetchannels -@all \+@read \+@write -@dangerous \+ping .*\+cluster\|slots/m);
  // Two passwords during a rotation: both hashes.
  const two = renderAclFile(aclUsers(spec), { ...pw, smoke: ["a-first-password-0000", "a-second-password-000"] });
  assert.equal((two.split("\n").find((l) => l.startsWith("user smoke"))!.match(/#\w{64}/g) ?? []).length, 2);
  assert.throws(() => renderAclFile(aclUsers(spec), { ...pw, exporter: [] }), /exporter has no password/);
});

test("dev profile: default user shares admin's password; DEBUG SLEEP only where enableDebugCommand allows it", () => {
  const dev = validateConfig({});
  const text = renderAclFile(aclUsers(dev), Object.fromEntries(passwordUsers(dev).map((u) => [u, [`${u}-secret-password-000`]])));
  assert.ok(text.startsWith(`user default on ${passwordHash("admin-secret-password-000")} ~* &* +@all`));
  assert.ok(smokeRules("yes").includes("+debug|sleep"));
  assert.ok(!smokeRules("no").some((r) => r.includes("debug")));
  assert.ok(!aclUsers(validateConfig({ platform: "kubernetes" })).find((u) => u.name === "smoke")!.rules.some((r) => r.includes("debug")));
});

test("the rotation step's environment: one definition for Docker and Kubernetes, files only, TLS when given", () => {
  const env = rotateEnv({ nodes: "a:6379 b:6379", passwordFile: "/p/password", previousPasswordFile: "/q/previous" });
  assert.deepEqual(env, {
    REDIS_NODES: "a:6379 b:6379", ROTATE_ACL_FILE: ACL_PATHS.aclFile, REDIS_USER: "admin", REDIS_PASSWORD_FILE: "/p/password",
    REDIS_PREVIOUS_PASSWORD_FILE: "/q/previous", REDIS_MASTERUSER: "replica", REDIS_MASTERAUTH_FILE: ACL_PATHS.masterauth,
  });
  const tls = rotateEnv({ nodes: "a:6379", passwordFile: "/p", previousPasswordFile: "/q", tls: TLS_CLIENT_FILES });
  assert.equal(tls.REDIS_TLS_CA_FILE, TLS_CLIENT_FILES.ca);
  assert.equal(tls.REDIS_TLS_KEY_FILE, TLS_CLIENT_FILES.key);
});

test("the canary user exists only with canary.enabled: canary:* keys, SET, WAIT, GET and the cluster-client commands", () => {
  const spec = validateConfig({ acl: { enabled: true } });
  assert.ok(!aclUsers(spec).some((u) => u.name === "canary"), "no canary user by default");
  const on = validateConfig({ acl: { enabled: true }, canary: { enabled: true } });
  const canary = aclUsers(on).find((u) => u.name === "canary");
  assert.ok(canary);
  assert.deepEqual(canary.rules.slice(0, 6), ["~canary:*", "resetchannels", "-@all", "+set", "+get", "+wait"]);
  assert.ok(!canary.rules.includes("+info") && !canary.rules.includes("+@all"), "nothing it does not send");
  assert.ok(passwordUsers(on).includes("canary"));
  assert.throws(() => validateConfig({ acl: { users: [{ name: "canary", keys: ["x:*"], commands: ["+get"] }] } }), /canary.*reserved|reserved.*canary/s);
});
