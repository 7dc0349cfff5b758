// The dev stack through the test engine, as `pulumi preview -s dev` / `pulumi up -s dev` run it: Pulumi's own
// Node.js runtime (tsx, CommonJS), the CLI's config rules (Pulumi.dev.yaml has no password: it is generated),
// preview with unknowns, up with provider outputs, and a second up against the saved state.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { runProgram, REPO_ROOT, EXIT_LOGGED_ERROR, type RunResult, type RecordedResource, type EngineState } from "../../testbed/engine/engine";
import { isSecret, plainStrings, unwrapSecrets, UNKNOWN } from "../../testbed/engine/values";
import { planCluster } from "../../infra/plan/plan";
import { validateConfig } from "../../infra/config/schema";
import { rawProjectConfig } from "../helpers/stackConfig";

const PASSWORD = "devPassword-0123456789";
const NODE = /^redis-cluster-dev-node-\d$/;
let preview: RunResult; // generated password (Pulumi.dev.yaml as committed)
let up: RunResult; // configured secret password
let up2: RunResult;
let failedBootstrap: RunResult;
let olderBootstrapScript: RunResult;
let otherClone: RunResult;
let cloneDir: string | undefined;

/** Another checkout of the repository (the working tree's tracked files) at another path, e.g. a teammate's or CI's. */
function copyCheckout(): string {
  const dir = mkdtempSync(join(tmpdir(), "redis-cluster-clone-"));
  const files = execFileSync("git", ["ls-files", "-z"], { cwd: REPO_ROOT, encoding: "utf8" }).split("\0").filter(Boolean);
  for (const f of files) {
    if (!existsSync(join(REPO_ROOT, f))) continue;
    mkdirSync(dirname(join(dir, f)), { recursive: true });
    cpSync(join(REPO_ROOT, f), join(dir, f));
  }
  symlinkSync(join(REPO_ROOT, "node_modules"), join(dir, "node_modules"));
  return dir;
}

const of = (r: RunResult, type: string) => r.resources.filter((x) => x.type === type);
const named = (r: RunResult, name: string) => r.resources.find((x) => x.name === name)!;
/** Whether `from` waits for `urn`, directly or through the resources it depends on (the scale step sits between the bootstrap check and the smoke). */
function waitsFor(r: RunResult, from: RecordedResource, urn: string, seen = new Set<string>()): boolean {
  for (const d of from.options.dependsOn as string[]) {
    if (d === urn) return true;
    if (seen.has(d)) continue;
    seen.add(d);
    const next = r.resources.find((x) => x.urn === d);
    if (next && waitsFor(r, next, urn, seen)) return true;
  }
  return false;
}
const containers = (r: RunResult) => of(r, "docker:index/container:Container");
const nodes = (r: RunResult) => containers(r).filter((c) => NODE.test(c.name));
const upload = (c: RecordedResource, file: string) => unwrapSecrets<{ file: string; content: string; permissions?: string }[]>(c.inputs.uploads).find((u) => u.file === file);
const withPassword = { password: { secret: PASSWORD } };

/** The state of an earlier deployment whose bootstrap.sh differed (every copy of it, wherever it was uploaded). */
function withOlderBootstrapScript(state: EngineState): EngineState {
  const script = planCluster(validateConfig(rawProjectConfig("dev"), { name: "redis-cluster-dev" })).bootstrapScript;
  const edit = (v: unknown): unknown =>
    v === script ? `${script}\n# an older revision\n` : Array.isArray(v) ? v.map(edit) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, edit(x)])) : v;
  return edit(state) as EngineState;
}

before(async () => {
  // Three runs at a time (2 cores): the ones that need no prior state, then the three against the first up's state.
  cloneDir = copyCheckout();
  [preview, up, failedBootstrap] = await Promise.all([
    runProgram({ stack: "dev", mode: "preview" }),
    runProgram({ stack: "dev", mode: "up", config: withPassword }),
    // The provider records a refusing bootstrap's exit code without failing the container.
    runProgram({
      stack: "dev", mode: "up", config: withPassword,
      outputOverrides: { "redis-cluster-dev-bootstrap": { exitCode: 2, containerLogs: "bootstrap: 172.28.0.12:6379 already belongs to another cluster; refusing" } },
    }),
  ]);
  assert.equal(up.exitCode, 0, up.errors.join("\n"));
  [up2, olderBootstrapScript, otherClone] = await Promise.all([
    runProgram({ stack: "dev", mode: "up", config: withPassword, priorState: up.state }),
    runProgram({ stack: "dev", mode: "up", config: withPassword, priorState: withOlderBootstrapScript(up.state) }),
    runProgram({ stack: "dev", mode: "preview", root: cloneDir, config: withPassword, priorState: up.state }),
  ]);
});

after(() => {
  if (cloneDir) rmSync(cloneDir, { recursive: true, force: true });
});

test("preview of Pulumi.dev.yaml as committed passes: no password configured, one is generated", () => {
  assert.equal(preview.exitCode, 0, preview.errors.join("\n"));
  assert.equal(of(preview, "random:index/randomPassword:RandomPassword").length, 1);
  // Preview runs with unknowns: what only exists after create is unknown in the outputs.
  assert.equal(preview.outputs.bootstrapExitCode, UNKNOWN);
  assert.ok(isSecret(preview.outputs.redisPassword) || preview.outputs.redisPassword === UNKNOWN);
  assert.equal(nodes(preview).length, 6);
  assert.ok(named(preview, "redis-cluster-dev-smoke-run"), "the smoke step is in the preview");
});

test("up declares one network, six volumes, six node containers and one bootstrap container", () => {
  assert.equal(of(up, "docker:index/network:Network").length, 1);
  assert.equal(of(up, "docker:index/volume:Volume").length, 6);
  assert.equal(containers(up).filter((c) => c.name.endsWith("-bootstrap")).length, 1);
  assert.equal(nodes(up).length, 6);
  assert.equal(of(up, "redis-cluster:docker:RedisDockerCluster").length, 1);
  assert.ok(!up.resources.some((r) => r.type.startsWith("kubernetes:")));
});

test("network has a fixed subnet and every node a static address, announced to peers", () => {
  const net = of(up, "docker:index/network:Network")[0];
  assert.deepEqual(net.inputs.ipamConfigs, [{ subnet: "172.28.0.0/24", gateway: "172.28.0.1", ipRange: "172.28.0.128/25" }]);
  nodes(up).forEach((c) => {
    const i = Number(c.name.slice(-1));
    const ip = `172.28.0.${11 + i}`;
    assert.equal(c.inputs.networksAdvanced[0].ipv4Address, ip);
    assert.ok(c.inputs.envs.includes(`REDIS_ANNOUNCE_IP=${ip}`), `${c.name} announces ${ip}`);
    assert.ok(!c.inputs.envs.some((e: string) => e.includes("127.0.0.1")), "no node announces loopback");
    // Loopback only: the cluster bus has no authentication.
    const ports = c.inputs.ports.map((p: { internal: number; external: number; ip: string }) => [p.internal, p.external, p.ip]);
    assert.deepEqual(ports, [[6379, 7001 + i, "127.0.0.1"], [16379, 17001 + i, "127.0.0.1"]]);
  });
});

test("nodes: healthcheck, restart policy, wait, own volume, stop grace, and only the files a node runs", () => {
  const volumes = of(up, "docker:index/volume:Volume").map((v) => v.inputs.name);
  for (const c of nodes(up)) {
    assert.match(c.inputs.healthcheck.tests.join(" "), /redis-cli -p 6379 ping/);
    assert.equal(c.inputs.restart, "unless-stopped");
    assert.equal(c.inputs.wait, true);
    assert.ok(volumes.includes(c.inputs.volumes[0].volumeName));
    assert.ok(c.inputs.volumes.every((v: { hostPath?: string }) => !v.hostPath), "no host paths");
    assert.match(upload(c, "/etc/redis-cluster/redis.conf")!.content, /cluster-enabled yes/);
    assert.deepEqual(c.inputs.entrypoints, ["sh", "/etc/redis-cluster/entrypoint.sh"]);
    // Item 8: a stop grace so Redis shuts down cleanly (the provider's default removes it at once).
    assert.ok(c.inputs.destroyGraceSeconds >= 10, `${c.name} destroyGraceSeconds ${c.inputs.destroyGraceSeconds}`);
    assert.equal(upload(c, "/etc/redis-cluster/bootstrap.sh"), undefined, `${c.name} carries bootstrap.sh, which nodes never run`);
  }
  assert.equal(new Set(volumes).size, 6);
  const boot = named(up, "redis-cluster-dev-bootstrap");
  assert.ok(upload(boot, "/etc/redis-cluster/bootstrap.sh"));
  assert.equal(upload(boot, "/etc/redis-cluster/redis.conf"), undefined);
  // An outer limit past BOOTSTRAP_TIMEOUT (issue 11): a hung bootstrap must not hang `pulumi up`.
  assert.deepEqual(boot.inputs.entrypoints, ["timeout", "-s", "KILL", "360", "sh", "/etc/redis-cluster/bootstrap.sh"]);
});

test("item 8: a changed bootstrap.sh replaces the bootstrap container only, never the nodes", () => {
  assert.equal(olderBootstrapScript.exitCode, 0, olderBootstrapScript.errors.join("\n"));
  const changed = olderBootstrapScript.resources.filter((r) => r.custom && r.op !== "same" && r.op !== "read").map((r) => `${r.name}:${r.op}`);
  assert.deepEqual(changed, ["redis-cluster-dev-bootstrap:replace"]);
});

test("bootstrap runs after every node container is healthy, once, on the cluster network", () => {
  const boot = named(up, "redis-cluster-dev-bootstrap");
  for (const n of nodes(up)) assert.ok(boot.options.dependsOn.includes(n.urn), `bootstrap does not wait for ${n.name}`);
  assert.equal(boot.inputs.mustRun, false);
  assert.equal(boot.inputs.attach, true);
  assert.ok(boot.inputs.envs.includes("REDIS_MASTERS=3") && boot.inputs.envs.includes("REDIS_REPLICAS=1"));
  assert.ok(boot.inputs.envs.some((e: string) => e.startsWith("REDIS_NODES=172.28.0.11:6379 ")));
});

test("monitoring: an exporter per node and a Prometheus, started after the bootstrap; fixed names delete before replace", () => {
  const all = containers(up);
  assert.equal(all.filter((c) => /exporter/.test(c.name)).length, 6);
  assert.equal(all.filter((c) => /prometheus/.test(c.name)).length, 1);
  for (const c of all) assert.equal(c.options.deleteBeforeReplace, true, `${c.name}: fixed container names need delete-before-replace`);
  const mon = of(up, "redis-cluster:monitoring:DockerMonitoring")[0];
  assert.deepEqual(mon.options.dependsOn, [named(up, "redis-cluster-dev-bootstrap-check").urn]);
  const prom = all.find((c) => /prometheus/.test(c.name))!;
  const uploads = unwrapSecrets<{ file: string; content: string }[]>(prom.inputs.uploads);
  assert.match(uploads.find((u) => u.file.endsWith("prometheus.yml"))!.content, /job_name: redis-cluster-dev\n/);
  assert.match(uploads.find((u) => u.file.includes("/rules/"))!.content, /job="redis-cluster-dev"/);
});

test("the smoke step runs after the bootstrap, from the project directory (no absolute checkout path in any input)", () => {
  const cmd = named(up, "redis-cluster-dev-smoke-run");
  assert.equal(cmd.type, "command:local:Command");
  assert.ok(waitsFor(up, cmd, named(up, "redis-cluster-dev-bootstrap-check").urn), `smoke depends on ${cmd.options.dependsOn}`);
  assert.ok(waitsFor(up, cmd, named(up, "redis-cluster-dev-scale-out-run").urn), "the smoke runs after the scale step's phase out");
  // Item 7: pulumi-command re-runs `create` on any input change; a path would differ in every clone.
  assert.equal(cmd.inputs.dir, undefined);
  for (const r of up.resources) {
    assert.ok(!JSON.stringify(unwrapSecrets(r.inputs)).includes(REPO_ROOT), `${r.type} ${r.name} has the checkout path ${REPO_ROOT} as an input`);
  }
});

/** Runs a pulumi-command `create` script the way the provider does (sh -c, the command's environment). */
function runCreate(cmd: RecordedResource, upTo?: string): { status: number | null; stderr: string } {
  const script = upTo ? (cmd.inputs.create as string).slice(0, (cmd.inputs.create as string).indexOf(upTo)) : cmd.inputs.create;
  const r = spawnSync("sh", ["-c", script], { env: { PATH: process.env.PATH, ...unwrapSecrets(cmd.inputs.environment) }, encoding: "utf8", timeout: 10_000 });
  return { status: r.status, stderr: r.stderr };
}

test("item 7: a preview from another checkout path against the same state changes nothing (the smoke does not re-run)", () => {
  assert.equal(otherClone.exitCode, 0, otherClone.errors.join("\n"));
  assert.deepEqual(otherClone.resources.filter((r) => r.op !== "same" && r.op !== "read").map((r) => `${r.name}:${r.op}:${r.changedKeys}`), []);
});

test("item 6: a bootstrap that exits non-zero fails its check step, which the smoke step (and monitoring) wait for", () => {
  assert.equal(failedBootstrap.exitCode, 0, failedBootstrap.errors.join("\n"));
  const check = named(failedBootstrap, "redis-cluster-dev-bootstrap-check");
  assert.equal(unwrapSecrets(check.inputs.environment).BOOTSTRAP_EXIT_CODE, "2");
  const failed = runCreate(check);
  assert.equal(failed.status, 1);
  assert.match(failed.stderr, /^bootstrap of redis-cluster-dev exited 2; its diagnosis: docker logs redis-cluster-dev-bootstrap\. After fixing the cause, run it again with: pulumi up -s dev --replace 'urn:pulumi:dev::redis-cluster::.*redis-cluster-dev-bootstrap'/);
  // With exit code 0 the check passes.
  assert.equal(runCreate(named(up, "redis-cluster-dev-bootstrap-check")).status, 0);
  // The smoke command depends on the check, and refuses by itself too (the guard before the CLI).
  const smoke = named(failedBootstrap, "redis-cluster-dev-smoke-run");
  assert.ok(waitsFor(failedBootstrap, smoke, check.urn));
  const guard = runCreate(smoke, "npx ");
  assert.equal(guard.status, 1);
  assert.match(guard.stderr, /smoke test not run: the bootstrap exited 2/);
  assert.equal(runCreate(named(up, "redis-cluster-dev-smoke-run"), "npx ").status, 0);
});

test("nothing in dev is protected or retained, so `pulumi destroy` leaves nothing behind", () => {
  for (const r of up.resources) {
    assert.ok(!r.options.protect, `${r.name} is protected`);
    assert.ok(!r.options.retainOnDelete, `${r.name} is retained on delete`);
  }
});

test("the password travels only as a secret upload, never in env, argv, config text or plain outputs", () => {
  for (const r of up.resources) {
    assert.ok(!plainStrings(r.inputs).some((s) => s.includes(PASSWORD)), `${r.type} ${r.name} has the password in a plain input`);
  }
  const c = nodes(up)[0];
  // On the wire (and in state) the password upload's content is a secret value.
  const raw = isSecret(c.inputs.uploads) ? null : (c.inputs.uploads as Record<string, unknown>[]).find((u) => u.file === "/etc/redis-cluster/secret/password");
  assert.ok(raw === null || isSecret(raw) || isSecret(raw!.content), "the password upload is not secret");
  const pw = upload(c, "/etc/redis-cluster/secret/password")!;
  assert.equal(pw.content, PASSWORD);
  assert.equal(pw.permissions, "0400");
  assert.ok(isSecret(up.outputs.redisPassword));
  assert.equal(unwrapSecrets(up.outputs.redisPassword), PASSWORD);
  assert.ok(!plainStrings(up.outputs).some((s) => s.includes(PASSWORD)), "password in a plain stack output");
  // The generated password (preview of the committed stack) is a secret too.
  const gen = of(preview, "random:index/randomPassword:RandomPassword")[0];
  assert.ok(gen.options.additionalSecretOutputs.includes("result"));
});

test("outputs give host clients what they need: seeds on published ports and an ioredis natMap", () => {
  assert.deepEqual(up.outputs.hostSeeds, [7001, 7002, 7003, 7004, 7005, 7006].map((p) => `127.0.0.1:${p}`));
  const natMap = up.outputs.natMap as Record<string, { host: string; port: number }>;
  assert.deepEqual(natMap["172.28.0.11:6379"], { host: "127.0.0.1", port: 7001 });
  assert.equal(Object.keys(natMap).length, 6);
  assert.equal(up.outputs.bootstrapExitCode, 0);
});

test("a second up against the saved state changes nothing", () => {
  assert.equal(up2.exitCode, 0, up2.errors.join("\n"));
  assert.deepEqual(up2.resources.filter((r) => r.op !== "same" && r.op !== "read").map((r) => `${r.name}:${r.op}:${r.changedKeys}`), []);
  assert.deepEqual(up2.deletes, []);
  assert.equal(up2.resources.length, up.resources.length);
});
