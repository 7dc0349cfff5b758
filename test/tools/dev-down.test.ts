// Runs the real dev-down CLI against temp project dirs and a fake `pulumi` on PATH that logs its argv,
// proving prod / Kubernetes stacks are refused before anything is destroyed.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, resolve } from "node:path";
import { guardStack, kubernetesResourceTypes } from "../../tools/stack-guard";
import { staleDevStacks, teardownCommands } from "../../tools/dev-down";

const SCRIPT = resolve(__dirname, "../../tools/dev-down.ts");
const TSX = resolve(__dirname, "../../node_modules/.bin/tsx");

// Fake pulumi: logs argv as one JSON line, answers `stack export` / `stack ls` from env.
const FAKE_PULUMI = `#!/usr/bin/env node
const fs = require("fs");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_PULUMI_LOG, JSON.stringify(args) + "\\n");
if (args[0] === "stack" && args[1] === "export") process.stdout.write(process.env.FAKE_PULUMI_STATE || '{"version":3,"deployment":{"resources":[]}}');
if (args[0] === "stack" && args[1] === "ls") process.stdout.write(process.env.FAKE_PULUMI_STACKS || "[]");
process.exit(args[0] === process.env.FAKE_PULUMI_FAIL_ON ? 5 : 0);
`;

const DOCKER_STATE = JSON.stringify({
  version: 3,
  deployment: {
    resources: [
      { urn: "urn:pulumi:dev::redis-cluster::pulumi:pulumi:Stack::redis-cluster-dev", type: "pulumi:pulumi:Stack" },
      { urn: "urn:pulumi:dev::redis-cluster::docker:index/container:Container::redis-1", type: "docker:index/container:Container" },
    ],
  },
});
const K8S_STATE = JSON.stringify({
  version: 3,
  deployment: {
    resources: [
      { urn: "urn:x::pulumi:providers:kubernetes::k8s", type: "pulumi:providers:kubernetes" },
      { urn: "urn:x::kubernetes:apps/v1:StatefulSet::redis", type: "kubernetes:apps/v1:StatefulSet" },
    ],
  },
});

let root: string;
let bin: string;

function project(files: Record<string, string>): string {
  const dir = mkdtempSync(join(root, "proj-"));
  writeFileSync(join(dir, "Pulumi.yaml"), "name: redis-cluster\nruntime: nodejs\n");
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  pulumiCalls: string[][];
}

function devDown(args: string[], opts: { env?: Record<string, string>; withPulumi?: boolean } = {}): Run {
  const log = join(mkdtempSync(join(root, "log-")), "calls.jsonl");
  const withPulumi = opts.withPulumi ?? true;
  // Without the fake, PATH holds only node's dir so a real pulumi cannot be found either.
  const path = withPulumi ? [bin, join(process.execPath, "..")].join(delimiter) : join(process.execPath, "..");
  const r = spawnSync(TSX, [SCRIPT, ...args], {
    encoding: "utf8",
    env: { HOME: root, PATH: path, FAKE_PULUMI_LOG: log, ...opts.env },
    timeout: 60_000,
  });
  const pulumiCalls = existsSync(log)
    ? readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as string[])
    : [];
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, pulumiCalls };
}

const destroyed = (r: Run) => r.pulumiCalls.some((c) => c[0] === "destroy" || (c[0] === "stack" && c[1] === "rm"));

before(() => {
  root = mkdtempSync(join(tmpdir(), "dev-down-test-"));
  bin = join(root, "bin");
  spawnSync("mkdir", ["-p", bin]);
  writeFileSync(join(bin, "pulumi"), FAKE_PULUMI);
  chmodSync(join(bin, "pulumi"), 0o755);
});
after(() => rmSync(root, { recursive: true, force: true }));

describe("dev-down CLI refuses production", () => {
  it("refuses a stack named prod (exit 3) and never calls pulumi", () => {
    const dir = project({ "Pulumi.prod.yaml": "config:\n  redis-cluster:platform: docker\n" });
    const r = devDown(["--stack", "prod", "--cwd", dir]);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /REFUSED to destroy stack "prod"/);
    assert.match(r.stderr, /production stack/);
    assert.deepEqual(r.pulumiCalls, []);
  });

  it("refuses names containing prod, also fully qualified ones", () => {
    const dir = project({});
    for (const stack of ["prod-eu", "my-org/redis-cluster/preprod", "PROD"]) {
      const r = devDown(["--stack", stack, "--cwd", dir, "--remove"]);
      assert.equal(r.status, 3, `${stack}: ${r.stderr}`);
      assert.equal(destroyed(r), false, stack);
    }
  });

  it("refuses a stack whose Pulumi.<stack>.yaml says platform kubernetes, even in --dry-run", () => {
    const dir = project({ "Pulumi.staging.yaml": "config:\n  redis-cluster:platform: kubernetes\n" });
    for (const extra of [[], ["--dry-run"]]) {
      const r = devDown(["-s", "staging", "--cwd", dir, ...extra]);
      assert.equal(r.status, 3, r.stderr);
      assert.match(r.stderr, /runs on kubernetes/);
      assert.equal(destroyed(r), false);
      assert.doesNotMatch(r.stdout, /pulumi destroy/);
    }
  });

  it("refuses a dev-named stack whose deployed state holds Kubernetes resources", () => {
    const dir = project({}); // no stack file: only the state tells
    const r = devDown(["-s", "dev-alice", "--cwd", dir], { env: { FAKE_PULUMI_STATE: K8S_STATE } });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /Kubernetes resources/);
    assert.deepEqual(r.pulumiCalls, [["stack", "export", "--stack", "dev-alice"]]);
  });

  it("the scheduled sweep never touches prod or kubernetes stacks", () => {
    const dir = project({ "Pulumi.dev-k8s.yaml": "config:\n  redis-cluster:platform: kubernetes\n" });
    const old = "2020-01-01T00:00:00.000Z";
    const stacks = JSON.stringify([
      { name: "prod", lastUpdate: old },
      { name: "dev-prod", lastUpdate: old },
      { name: "dev-k8s", lastUpdate: old },
      { name: "dev-old", lastUpdate: old },
      { name: "dev-new", lastUpdate: new Date().toISOString() },
    ]);
    const r = devDown(["--older-than-hours", "24", "--cwd", dir], { env: { FAKE_PULUMI_STACKS: stacks, FAKE_PULUMI_STATE: DOCKER_STATE } });
    assert.equal(r.status, 3, r.stderr); // dev-k8s refused
    const destroys = r.pulumiCalls.filter((c) => c[0] === "destroy").map((c) => c[c.length - 1]);
    assert.deepEqual(destroys, ["dev-old"]);
  });
});

describe("dev-down CLI on dev stacks", () => {
  it("--dry-run prints the destroy command for dev without calling pulumi", () => {
    const dir = project({ "Pulumi.dev.yaml": "config:\n  redis-cluster:platform: docker\n" });
    const r = devDown(["--dry-run", "--cwd", dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), "pulumi destroy --yes --stack dev");
    assert.deepEqual(r.pulumiCalls, []);
  });

  it("--dry-run --remove also prints pulumi stack rm", () => {
    const dir = project({ "Pulumi.dev.yaml": "config:\n  redis-cluster:platform: docker\n" });
    const r = devDown(["--dry-run", "--remove", "--cwd", dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split("\n"), [
      "pulumi destroy --yes --stack dev",
      "pulumi stack rm --yes --stack dev",
    ]);
  });

  it("runs export, destroy and stack rm for a docker dev stack", () => {
    const dir = project({ "Pulumi.dev.yaml": "config:\n  redis-cluster:platform: docker\n" });
    const r = devDown(["--remove", "--cwd", dir], { env: { FAKE_PULUMI_STATE: DOCKER_STATE } });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.pulumiCalls, [
      ["stack", "export", "--stack", "dev"],
      ["destroy", "--yes", "--stack", "dev"],
      ["stack", "rm", "--yes", "--stack", "dev"],
    ]);
  });

  it("stops before stack rm when destroy fails and passes on pulumi's exit code", () => {
    const dir = project({ "Pulumi.dev.yaml": "config:\n  redis-cluster:platform: docker\n" });
    const r = devDown(["--remove", "--cwd", dir], { env: { FAKE_PULUMI_FAIL_ON: "destroy" } });
    assert.equal(r.status, 5, r.stderr);
    assert.deepEqual(r.pulumiCalls, [
      ["stack", "export", "--stack", "dev"],
      ["destroy", "--yes", "--stack", "dev"],
    ]);
  });

  it("missing pulumi CLI gives a clear message and exit 127", () => {
    const dir = project({ "Pulumi.dev.yaml": "config:\n  redis-cluster:platform: docker\n" });
    const r = devDown(["--cwd", dir], { withPulumi: false });
    assert.equal(r.status, 127, r.stderr);
    assert.match(r.stderr, /pulumi CLI not found on PATH/);
  });
});

describe("stack guard and helpers", () => {
  it("package.json wires npm run dev:down to this script", () => {
    const pkg = JSON.parse(readFileSync(resolve(__dirname, "../../package.json"), "utf8")) as { scripts: Record<string, string> };
    assert.equal(pkg.scripts["dev:down"], "tsx tools/dev-down.ts");
  });

  it("refuses the repository's own prod stack by its stack file's platform as well as by name", () => {
    const root = resolve(__dirname, "../..");
    const file = join(root, "Pulumi.prod.yaml");
    // Without the file the guard would fall back to the project default (docker) and refuse by name only.
    assert.ok(existsSync(file), `${file} is missing: the prod stack's platform must come from its stack file`);
    const v = guardStack({ stack: "prod", projectDir: root });
    assert.equal(v.allowed, false);
    assert.equal(v.platform.source, file);
    assert.ok(v.reasons.some((r) => /runs on kubernetes/.test(r)), v.reasons.join("; "));
    assert.ok(v.reasons.some((r) => /production stack/.test(r)), v.reasons.join("; "));
  });

  it("uses the Pulumi.yaml project default when the stack file does not set the platform", () => {
    const dir = project({});
    writeFileSync(join(dir, "Pulumi.yaml"), "name: redis-cluster\nruntime: nodejs\nconfig:\n  platform:\n    type: string\n    default: kubernetes\n");
    const v = guardStack({ stack: "qa", projectDir: dir });
    assert.equal(v.allowed, false);
    assert.match(v.reasons.join(), /project default/);
  });

  it("asks for the state when no config tells the platform", () => {
    const v = guardStack({ stack: "dev-x", projectDir: project({}) });
    assert.equal(v.allowed, false);
    assert.equal(v.needsState, true);
    assert.deepEqual(v.reasons, []);
    assert.equal(guardStack({ stack: "dev-x", projectDir: project({}), state: JSON.parse(DOCKER_STATE) }).allowed, true);
  });

  it("finds Kubernetes resource types in an export", () => {
    assert.deepEqual(kubernetesResourceTypes(JSON.parse(K8S_STATE)), ["kubernetes:apps/v1:StatefulSet", "pulumi:providers:kubernetes"]);
    assert.deepEqual(kubernetesResourceTypes(JSON.parse(DOCKER_STATE)), []);
  });

  it("builds argv without a shell", () => {
    assert.deepEqual(teardownCommands("dev", false), [["pulumi", "destroy", "--yes", "--stack", "dev"]]);
  });

  it("selects stale dev stacks only", () => {
    const now = new Date("2025-01-10T00:00:00Z");
    const r = staleDevStacks(
      [
        { name: "dev", lastUpdate: "2025-01-01T00:00:00Z" },
        { name: "org/redis-cluster/dev-bob", lastUpdate: "2025-01-09T12:00:00Z" },
        { name: "develop", lastUpdate: "2025-01-01T00:00:00Z" },
        { name: "dev-busy", lastUpdate: "2025-01-01T00:00:00Z", updateInProgress: true },
        { name: "prod", lastUpdate: "2025-01-01T00:00:00Z" },
      ],
      24,
      now,
    );
    assert.deepEqual(r.stale, ["dev"]);
    assert.deepEqual(r.skipped, ["dev-busy: update in progress"]);
  });
});
