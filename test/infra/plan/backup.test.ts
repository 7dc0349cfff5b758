import { test } from "node:test";
import assert from "node:assert/strict";
import { validateConfig } from "../../../infra/config/schema";
import { planCluster } from "../../../infra/plan/plan";
import { aclUsers, passwordUsers } from "../../../infra/plan/acl";

const PW = "a-repository-password";
const backup = (extra: Record<string, unknown> = {}) => ({ enabled: true, repository: "s3:https://minio:9000/bk/redis", password: PW, ...extra });

test("docker: the backup run's arguments, the repository's environment and the Pushgateway on the announce host", () => {
  const plan = planCluster(validateConfig({ backup: backup({ retention: { keepLast: 2, keepDaily: 0, keepWeekly: 0, keepMonthly: 3 } }), docker: { pushgatewayPort: 9191 } }, { name: "redis-cluster-dev" }));
  const b = plan.backup!;
  assert.deepEqual(b.backupArgs, ["backup", "--pause-bound-ms", "1000", "--keep-last", "2", "--keep-monthly", "3", "--init-repository", "--cluster-name", "redis-cluster-dev"]);
  assert.deepEqual(b.drillArgs, ["drill", "--snapshot", "latest", "--cluster-name", "redis-cluster-dev"]);
  assert.deepEqual(b.repository, { kind: "s3", env: { RESTIC_REPOSITORY: "s3:https://minio:9000/bk/redis" }, secretEnv: { RESTIC_PASSWORD: "password" } });
  assert.equal(b.pushgatewayUrl, "http://127.0.0.1:9191");
  assert.deepEqual(b.pushArgs, ["--pushgateway", "http://127.0.0.1:9191", "--push-cluster", "redis-cluster-dev"]);
  assert.equal(b.user, undefined, "no ACL users in dev: admin's password");
  assert.equal(plan.restore, undefined);
  assert.ok(!JSON.stringify(plan).includes(PW), "no secret in the plan");
});

test("an IPv6 loopback announce host is bracketed; no monitoring, no Pushgateway", () => {
  assert.equal(planCluster(validateConfig({ backup: backup(), docker: { announceHost: "::1" } })).backup!.pushgatewayUrl, "http://[::1]:9091");
  const quiet = planCluster(validateConfig({ backup: backup(), monitoring: { enabled: false } })).backup!;
  assert.equal(quiet.pushgatewayUrl, undefined);
  assert.deepEqual(quiet.pushArgs, []);
  assert.equal(planCluster(validateConfig({})).backup, undefined, "off by default");
});

test("kubernetes: the Pushgateway Service, the backup user, the image and resources of the Jobs, the S3 credentials' variables", () => {
  const spec = validateConfig({ platform: "kubernetes", kubernetes: { namespace: "cache" }, backup: backup({ image: "registry/redis-backup:1", credentials: { accessKeyId: "id", secretAccessKey: "key" } }) }, { name: "redis-cluster-prod" });
  const b = planCluster(spec).backup!;
  assert.equal(b.pushgatewayUrl, "http://redis-cluster-prod-pushgateway.cache.svc.cluster.local:9091");
  assert.equal(b.pushgatewayName, "redis-cluster-prod-pushgateway");
  assert.equal(b.user, "backup");
  assert.equal(b.image, "registry/redis-backup:1");
  assert.deepEqual(b.resources, { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "2Gi" } });
  assert.deepEqual(b.repository.secretEnv, { RESTIC_PASSWORD: "password", AWS_ACCESS_KEY_ID: "accessKeyId", AWS_SECRET_ACCESS_KEY: "secretAccessKey" });
  assert.equal(b.schedule, "0 2 * * *");
});

test("restore: snapshot and cluster id as arguments, the repository resolved against backup's", () => {
  const plan = planCluster(validateConfig({ backup: { repository: "rest:http://10.0.0.5:8000/", password: PW }, restore: { snapshot: "1a2b3c4d", clusterId: "0123456789abcdef" } }));
  assert.deepEqual(plan.restore, {
    snapshot: "1a2b3c4d",
    args: ["restore", "--snapshot", "1a2b3c4d", "--cluster-id", "0123456789abcdef"],
    repository: { kind: "rest", env: { RESTIC_REPOSITORY: "rest:http://10.0.0.5:8000/" }, secretEnv: { RESTIC_PASSWORD: "password" } },
    resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "2Gi" } },
  });
  assert.equal(plan.backup, undefined, "a restore alone takes no backups");
});

test("ACL: the backup user exists only with backups or a restore, with only what its runs need", () => {
  const user = (raw: Record<string, unknown>) => aclUsers(validateConfig({ acl: { enabled: true }, ...raw })).find((u) => u.name === "backup");
  assert.equal(user({}), undefined);
  const b = user({ backup: backup() })!;
  for (const r of ["~*", "-@all", "+psync", "+replconf", "+client|pause", "+client|unpause", "+dbsize", "+info", "+cluster|nodes"]) assert.ok(b.rules.includes(r), `${r} in ${b.rules.join(" ")}`);
  for (const r of ["+restore", "+set", "+del", "+@all", "+@write"]) assert.ok(!b.rules.includes(r), `${r} not for a backup`);
  const r = user({ backup: { repository: "rest:http://h:8000/", password: PW }, restore: { snapshot: "latest" } })!;
  for (const x of ["+restore", "+set", "+get", "+del", "+cluster|countkeysinslot"]) assert.ok(r.rules.includes(x), `${x} in ${r.rules.join(" ")}`);
  for (const x of ["+psync", "+client|pause"]) assert.ok(!r.rules.includes(x), `${x} not for a restore`);
  assert.ok(passwordUsers(validateConfig({ acl: { enabled: true }, backup: backup() })).includes("backup"));
  // An application user may not take the name.
  assert.throws(() => validateConfig({ acl: { users: [{ name: "backup", keys: ["*"], commands: ["+@all"] }] } }), /reserved/);
});
