// Bad stack config, as a user meets it from `pulumi up`: the CLI's own checks stop some before the program runs
// (exit 255); the program's validation names every problem by key and exits 32 before any resource is declared.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, EXIT_CLI_ERROR, EXIT_LOGGED_ERROR, type RunResult } from "../../testbed/engine/engine";

const PLAINTEXT = "plainPassword-0123456789";
let many: RunResult;
let plaintext: RunResult;
let badPassword: RunResult;
let memory: RunResult;
let external: RunResult;
let externalDocker: RunResult;
let backupWrong: RunResult;
let backupPlain: RunResult;

const onlyStack = (r: RunResult) => assert.deepEqual(r.resources.map((x) => x.type), ["pulumi:pulumi:Stack"], "resources were declared");

const REPO_PASSWORD = "repository-password-in-plain-text";

before(async () => {
  [backupWrong, backupPlain] = await Promise.all([
    // backup.* and restore.* mistakes on prod at once (the whole object secret, as `--secret --path` makes it).
    runProgram({
      stack: "prod", mode: "preview",
      config: {
        backup: { secret: JSON.stringify({ enabled: true, schedule: "0 2 * *", repository: "/var/backups/redis", credentials: { accessKeyId: "id", secretAccessKey: "key" } }) },
        restore: { secret: JSON.stringify({ repository: "rest:http://backup:s3cr3t-in-url@10.0.0.5:8000/" }) },
      },
    }),
    // `pulumi config set --path redis-cluster:backup.password …` without --secret.
    runProgram({ stack: "dev", mode: "preview", config: { "redis-cluster:backup": { enabled: true, repository: "/var/backups/redis", password: REPO_PASSWORD } } }),
  ]);
  [many, plaintext] = await Promise.all([
    runProgram({
      stack: "dev", mode: "preview",
      config: { masters: 2, maxmemory: "lots", appendfsync: "sometimes", mastres: 3, "redis-cluster:docker": { network: "redis-cluster", hostPortBase: 70000 } },
    }),
    // `pulumi config set redis-cluster:password …` without --secret.
    runProgram({ stack: "dev", mode: "preview", config: { password: PLAINTEXT } }),
  ]);
  [badPassword, memory, external, externalDocker] = await Promise.all([
    runProgram({ stack: "dev", mode: "preview", config: { password: { secret: "short" } } }),
    runProgram({ stack: "prod", mode: "preview", config: { maxmemory: "4gb" } }),
    // Everything a user could get wrong about kubernetes.externalAccess at once (Pulumi.prod.yaml says preferredEndpointType ip).
    runProgram({
      stack: "prod", mode: "preview",
      config: {
        "redis-cluster:tls": { enabled: false },
        "redis-cluster:kubernetes": {
          preferredEndpointType: "ip",
          externalAccess: {
            enabled: true, domain: "Redis.Example.com.", serviceType: "NodePort", addresses: ["198.51.100.10", "198.51.100.10"],
            sourceRanges: ["203.0.113.7/24", "10.0.0.0/33", "office"], annotations: { "external-dns.alpha.kubernetes.io/hostname": "redis.example.com" },
          },
        },
      },
    }),
    runProgram({ stack: "dev", mode: "preview", config: { "redis-cluster:kubernetes": { externalAccess: { enabled: true, domain: "redis.example.com", allowAnySource: true } } } }),
  ]);
});

test("one error lists every problem by key, pulumi up exits 32, and no resource is declared", () => {
  assert.equal(many.exitCode, EXIT_LOGGED_ERROR);
  const msg = many.errors.join("\n");
  for (const expected of [
    "Invalid stack config (5 problems)",
    "redis-cluster:masters must be >= 3, got 2",
    'redis-cluster:maxmemory must be a redis.conf size like 512mb or 2gb, got "lots"',
    'redis-cluster:appendfsync must be one of "always", "everysec", "no", got "sometimes"',
    "redis-cluster:mastres is not a known setting — did you mean masters?",
    "redis-cluster:docker.hostPortBase must be <= 65535, got 70000",
  ]) {
    assert.ok(msg.includes(expected), `missing "${expected}" in:\n${msg}`);
  }
  // A RunError: the message alone, no stack trace.
  assert.doesNotMatch(msg, /\n\s+at /);
  onlyStack(many);
});

test("a value of the wrong type for a declared key is the CLI's error, before the program runs", async () => {
  const r = await runProgram({ stack: "dev", mode: "preview", config: { replicasPerMaster: "one" } });
  assert.equal(r.exitCode, EXIT_CLI_ERROR);
  assert.deepEqual(r.errors, ["Stack 'dev' with configuration key 'replicasPerMaster' must be of type 'integer'"]);
  assert.deepEqual(r.resources, []);
});

test("a password stored in plain text is refused with the command that fixes it, and never echoed", () => {
  assert.equal(plaintext.exitCode, EXIT_LOGGED_ERROR);
  assert.match(plaintext.errors.join("\n"), /redis-cluster:password is stored in plain text; set it with `pulumi config set --secret redis-cluster:password <value>`/);
  assert.ok(!JSON.stringify(plaintext.logs).includes(PLAINTEXT));
  onlyStack(plaintext);
});

test("a password the entrypoint cannot use is refused by key, without its value", () => {
  assert.equal(badPassword.exitCode, EXIT_LOGGED_ERROR);
  const msg = badPassword.errors.join("\n");
  assert.match(msg, /redis-cluster:password must be 16-128 characters/);
  assert.ok(!msg.includes('"short"'));
  onlyStack(badPassword);
});

test("prod: maxmemory above the memory limit is refused with the setting to change", () => {
  assert.equal(memory.exitCode, EXIT_LOGGED_ERROR);
  assert.match(memory.errors.join("\n"), /redis-cluster:kubernetes\.resources\.limits\.memory is 2Gi, lower than maxmemory 4gb \+ 25% headroom; raise the limit or lower maxmemory/);
  onlyStack(memory);
});

test("prod: kubernetes.externalAccess mistakes are refused at preview, each naming the setting and the fix", () => {
  assert.equal(external.exitCode, EXIT_LOGGED_ERROR);
  const msg = external.errors.join("\n");
  for (const expected of [
    /kubernetes\.externalAccess\.domain must be written lowercase and without a trailing dot; set redis\.example\.com/,
    /kubernetes\.externalAccess\.serviceType is NodePort, which cannot work: a NodePort listens on a port from 30000-32767 while each node announces 6379 .*; set serviceType: LoadBalancer/,
    /kubernetes\.externalAccess\.allowPlaintext is false but tls\.enabled is false: .*; set tls\.enabled: true, or externalAccess\.allowPlaintext: true/,
    /kubernetes\.preferredEndpointType is ip, but with externalAccess .*; remove kubernetes\.preferredEndpointType/,
    /kubernetes\.externalAccess\.addresses has 2 addresses for 6 pods .*; give one per pod/,
    /kubernetes\.externalAccess\.addresses lists 198\.51\.100\.10 twice/,
    /kubernetes\.externalAccess\.sourceRanges\.0 has host bits set; write the network 203\.0\.113\.0\/24, or 203\.0\.113\.7\/32 for that one address/,
    /kubernetes\.externalAccess\.sourceRanges\.1 has prefix \/33; an IPv4 prefix is at most \/32/,
    /kubernetes\.externalAccess\.sourceRanges\.2 must be a CIDR like 203\.0\.113\.0\/24/,
    /kubernetes\.externalAccess\.annotations sets external-dns\.alpha\.kubernetes\.io\/hostname, which externalDns sets per Service/,
  ]) {
    assert.match(msg, expected);
  }
  onlyStack(external);
  assert.equal(externalDocker.exitCode, EXIT_LOGGED_ERROR);
  assert.match(externalDocker.errors.join("\n"), /kubernetes\.externalAccess\.enabled is true but platform is docker: .*the natMap/);
  onlyStack(externalDocker);
});

test("backup and restore mistakes are refused at preview, each naming the setting and the fix; no secret echoed", () => {
  assert.equal(backupWrong.exitCode, EXIT_LOGGED_ERROR);
  const msg = backupWrong.errors.join("\n");
  for (const expected of [
    /redis-cluster:backup\.schedule must have five fields \(minute hour day-of-month month day-of-week\), like "0 2 \* \* \*"; got 4/,
    /redis-cluster:backup\.password is required with backup\.enabled .*`pulumi config set --secret --path redis-cluster:backup\.password <value>`/,
    /redis-cluster:backup\.image is required with backup\.enabled on kubernetes: an image with node >= 18, restic and redis-server/,
    /redis-cluster:backup\.repository is a directory, which on kubernetes is inside the Job's container and lost with it; use an s3: or rest: repository/,
    /redis-cluster:backup\.credentials are S3 credentials but the repository is not s3:/,
    /redis-cluster:restore\.repository holds credentials \(user:password@\)/,
    /redis-cluster:restore\.repository is set but restore\.snapshot is not: nothing is restored/,
  ]) {
    assert.match(msg, expected);
  }
  assert.ok(!JSON.stringify(backupWrong.logs).includes("s3cr3t-in-url"), "the refused repository's credentials are not echoed");
  onlyStack(backupWrong);
  assert.equal(backupPlain.exitCode, EXIT_LOGGED_ERROR);
  assert.match(backupPlain.errors.join("\n"), /redis-cluster:backup holds a password or credentials in plain text; set them with `pulumi config set --secret --path 'redis-cluster:backup\.password' <value>`/);
  assert.ok(!JSON.stringify(backupPlain.logs).includes(REPO_PASSWORD), "the plain-text password is not echoed");
  onlyStack(backupPlain);
});
