import { test } from "node:test";
import assert from "node:assert/strict";
import { cronProblem, repositoryProblem } from "../../../infra/config/backup";
import { validateConfig } from "../../../infra/config/schema";
import { problems } from "./problems";

const REPO = "rest:http://10.0.0.5:8000/redis";
const PW = "a-repository-password";
const on = (extra: Record<string, unknown> = {}) => ({ backup: { enabled: true, repository: REPO, password: PW, ...extra } });

test("defaults: no backup, no restore; the retention a daily schedule needs", () => {
  const s = validateConfig({});
  assert.equal(s.backup.enabled, false);
  assert.equal(s.backup.schedule, "0 2 * * *");
  assert.deepEqual(s.backup.retention, { keepLast: 0, keepHourly: 0, keepDaily: 7, keepWeekly: 4, keepMonthly: 6 });
  assert.equal(s.backup.pauseBoundMs, 1000);
  assert.equal(s.restore, undefined);
  assert.equal(s.docker.pushgatewayPort, 9091);
});

test("the spec carries no secret: only whether a password and credentials were given", () => {
  const s = validateConfig({ backup: { enabled: true, repository: "s3:https://minio:9000/bk/redis", password: PW, credentials: { accessKeyId: "AKIA-ID", secretAccessKey: "the-secret-key" } } });
  assert.equal(s.backup.passwordProvided, true);
  assert.equal(s.backup.credentialsProvided, true);
  const text = JSON.stringify(s);
  for (const secret of [PW, "AKIA-ID", "the-secret-key"]) assert.ok(!text.includes(secret), `${secret} in the spec`);
});

test("cron schedules: what a CronJob takes, and each refusal names the field", () => {
  for (const ok of ["0 2 * * *", "*/15 * * * *", "0 3 * * MON-FRI", "30 1 1,15 * ?", "0 0 * JAN,JUL SUN", "@daily", "@hourly", "0-59/5 0-23 1-31 1-12 0-6"]) {
    assert.equal(cronProblem(ok), undefined, ok);
  }
  assert.match(cronProblem("61 * * * *")!, /minute field "61"/);
  assert.match(cronProblem("0 24 * * *")!, /hour field/);
  assert.match(cronProblem("0 0 0 * *")!, /day of month field/);
  assert.match(cronProblem("0 0 * JANX *")!, /month field/);
  assert.match(cronProblem("0 0 * * 7")!, /day of week field/);
  assert.match(cronProblem("5-1 * * * *")!, /minute field/);
  assert.match(cronProblem("*/0 * * * *")!, /minute field/);
  assert.match(cronProblem("? * * * *")!, /minute field/);
  assert.match(cronProblem("* * *")!, /five fields/);
  assert.match(cronProblem("@every 1h")!, /@daily/);
  assert.match(cronProblem("TZ=UTC 0 2 * * *")!, /time zone/);
  assert.deepEqual(problems(on({ schedule: "0 25 * * *" })), ['redis-cluster:backup.schedule the hour field "25" must be *, a value, a range a-b, a list a,b or a step */n, within 0-23, got "0 25 * * *"']);
});

test("repositories: s3, rest and a directory; credentials never in the string", () => {
  for (const ok of ["s3:https://minio.example:9000/backups/redis", "s3:s3.amazonaws.com/bucket", "s3:http://10.0.0.1/b", "rest:http://127.0.0.1:8000/", "rest:https://backup.example/redis", "/var/backups/redis"]) {
    assert.equal(repositoryProblem(ok), undefined, ok);
  }
  assert.match(repositoryProblem("b2:bucket:path")!, /must be s3:/);
  assert.match(repositoryProblem("backups/redis")!, /absolute directory/);
  assert.match(repositoryProblem("s3:https://minio:9000")!, /must name a bucket/);
  assert.match(repositoryProblem("s3:https://key:secret@minio/b")!, /backup\.credentials/);
  assert.match(repositoryProblem("rest:http://user:pass@host:8000/")!, /holds credentials/);
  const msg = problems(on({ repository: "rest:http://user:hunter2hunter2@host:8000/" })).join("\n");
  assert.match(msg, /redis-cluster:backup\.repository holds credentials/);
  assert.ok(!msg.includes("hunter2"), "the refused repository is not echoed");
});

test("refusals name the setting and the fix; secrets are never echoed", () => {
  assert.deepEqual(problems({ backup: { enabled: true } }), [
    "redis-cluster:backup.repository is required with backup.enabled: set it to s3:https://host/bucket/prefix, rest:http://host:8000/ or (docker) an absolute directory",
    "redis-cluster:backup.password is required with backup.enabled (the restic repository's password); set it with `pulumi config set --secret --path redis-cluster:backup.password <value>`",
  ]);
  const k8s = problems({ platform: "kubernetes", backup: { enabled: true, repository: "/var/backups", password: PW } });
  assert.ok(k8s.some((p) => /backup\.image is required with backup\.enabled on kubernetes/.test(p)), k8s.join("\n"));
  assert.ok(k8s.some((p) => /backup\.repository is a directory, which on kubernetes is inside the Job's container/.test(p)), k8s.join("\n"));
  assert.match(problems(on({ credentials: { accessKeyId: "id", secretAccessKey: "k" } })).join("\n"), /backup\.credentials are S3 credentials but the repository is not s3:/);
  const short = problems(on({ password: "short" })).join("\n");
  assert.match(short, /redis-cluster:backup\.password must be 8-1024 characters on one line/);
  assert.ok(!short.includes("short\""), "no password echoed");
  const creds = problems({ backup: { credentials: { accessKeyId: "has spaces in it", secretAccessKey: "x" } } }).join("\n");
  assert.ok(!creds.includes("has spaces"), creds);
  assert.deepEqual(problems({ restore: { clusterId: "0123456789abcdef" } }), ["redis-cluster:restore.clusterId is set but restore.snapshot is not: nothing is restored; set restore.snapshot or remove it"]);
  assert.deepEqual(problems({ restore: { snapshot: "latest" } }), [
    "redis-cluster:restore.repository is required with restore.snapshot (or backup.repository): the restic repository holding the backup",
    "redis-cluster:restore.password is required with restore.snapshot (or backup.password); set it with `pulumi config set --secret --path redis-cluster:restore.password <value>`",
  ]);
  assert.match(problems({ restore: { snapshot: "yesterday" } })[0], /restore\.snapshot must be latest or a restic snapshot id/);
  assert.match(problems({ backup: { retention: { keepDaily: -1 } } })[0], /backup\.retention\.keepDaily must be >= 0/);
});

test("docker: the Pushgateway's host port joins the port check when backups and monitoring are on", () => {
  const clash = problems({ ...on(), docker: { pushgatewayPort: 9090 } });
  assert.match(clash.join("\n"), /ports collide: prometheus and pushgateway both use host port 9090/);
  // Without backups there is no Pushgateway: no collision.
  assert.equal(validateConfig({ docker: { pushgatewayPort: 9090 } }).docker.pushgatewayPort, 9090);
});

test("restore: the repository, password and credentials default to backup's, each from where it is set", () => {
  const same = validateConfig({ backup: { repository: "s3:https://minio/b", password: PW, credentials: { accessKeyId: "i", secretAccessKey: "k" } }, restore: { snapshot: "latest" } });
  assert.deepEqual(same.restore, { snapshot: "latest", repository: "s3:https://minio/b", secretsFrom: { password: "backup", credentials: "backup" } });
  const other = validateConfig({ backup: { repository: "s3:https://minio/b", password: PW }, restore: { snapshot: "1a2b3c4d", clusterId: "0123456789abcdef", repository: REPO, password: "another-password" } });
  // Another repository never borrows backup's credentials.
  assert.deepEqual(other.restore, { snapshot: "1a2b3c4d", clusterId: "0123456789abcdef", repository: REPO, secretsFrom: { password: "restore" } });
});
