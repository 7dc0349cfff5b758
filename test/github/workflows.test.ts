// Offline lint of .github/workflows: GitHub workflow schema (@action-validator/core), yamllint,
// shellcheck on every `run:` snippet, and the properties the project relies on (preview comments
// on PRs and refuses to run without backend secrets; teardown only through the dev:down guard).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parse } from "yaml";
import { validateWorkflow } from "@action-validator/core";

const ROOT = resolve(__dirname, "../..");
const WORKFLOWS = join(ROOT, ".github/workflows");
const INSTALL = "install with: npm run setup:system";

type Step = { id?: string; name?: string; uses?: string; run?: string; with?: Record<string, unknown>; if?: string };
type Job = { steps: Step[]; strategy?: { matrix?: Record<string, unknown> }; env?: Record<string, string> };
type Workflow = {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  concurrency?: { group: string; "cancel-in-progress": unknown };
  jobs: Record<string, Job>;
};

const files = readdirSync(WORKFLOWS).filter((f) => /\.ya?ml$/.test(f)).sort();
const load = (f: string) => parse(readFileSync(join(WORKFLOWS, f), "utf8")) as Workflow;
const allSteps = (wf: Workflow) => Object.values(wf.jobs).flatMap((j) => j.steps);

function requireTool(bin: string): void {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  assert.ok(!r.error && r.status === 0, `${bin} not found on PATH — ${INSTALL}`);
}

let tmp: string;
before(() => {
  tmp = mkdtempSync(join(tmpdir(), "workflows-test-"));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe("workflow lint", () => {
  it("has the three workflows", () => {
    assert.deepEqual(files, ["dev-teardown.yml", "preview.yml", "test.yml"]);
  });

  it("the schema validator rejects a broken workflow (sanity check)", () => {
    const r = validateWorkflow("on: push\njobs:\n  a:\n    steps:\n      - run: x\n");
    assert.ok(r.errors.length > 0);
  });

  for (const f of files) {
    it(`${f} matches the GitHub workflow schema (@action-validator/core)`, () => {
      const r = validateWorkflow(readFileSync(join(WORKFLOWS, f), "utf8"));
      assert.deepEqual(r.errors, [], JSON.stringify(r.errors, null, 2));
    });
  }

  it("yamllint (strict) passes on .github", () => {
    requireTool("yamllint");
    const r = spawnSync("yamllint", ["-s", "-f", "parsable", "-c", join(ROOT, ".github/yamllint.yml"), join(ROOT, ".github")], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
  });

  for (const f of files) {
    it(`shellcheck -s bash passes on every run: snippet of ${f}`, () => {
      requireTool("shellcheck");
      const steps = allSteps(load(f)).filter((s) => typeof s.run === "string");
      assert.ok(steps.length > 0);
      steps.forEach((s, i) => {
        const run = s.run as string;
        // Expressions from user input must reach the shell through env, never inline (script injection).
        assert.doesNotMatch(run, /\$\{\{\s*(inputs\.|github\.event\.|github\.head_ref)/, `${f} step "${s.name}" splices user input`);
        // Runner's default bash flags; expressions become a plain word shellcheck can read.
        const body = run.replace(/\$\{\{[^}]*\}\}/g, "GHA_EXPRESSION");
        const file = join(tmp, `${f}.${i}.sh`);
        writeFileSync(file, `#!/usr/bin/env bash\nset -eo pipefail\n${body}`);
        const r = spawnSync("shellcheck", ["-s", "bash", "-f", "gcc", file], { encoding: "utf8" });
        assert.equal(r.status, 0, `${f} step "${s.name ?? i}":\n${r.stdout}${r.stderr}\n--- snippet ---\n${run}`);
      });
    });
  }
});

describe("test.yml", () => {
  const wf = load("test.yml");
  it("runs on push and pull_request over Node 20/22/24", () => {
    assert.ok("push" in wf.on && "pull_request" in wf.on);
    assert.deepEqual(wf.jobs.test?.strategy?.matrix?.node, [20, 22, 24]);
  });

  it("runs the same commands as .ci/run", () => {
    const ciCommands = readFileSync(join(ROOT, ".ci/run"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#") && !l.startsWith("set ") && !l.startsWith("cd "));
    const runs = allSteps(wf).map((s) => s.run?.trim()).filter(Boolean);
    assert.deepEqual(runs, ciCommands);
  });
});

describe("preview.yml", () => {
  const wf = load("preview.yml");
  const job = wf.jobs.preview as Job;
  it("runs on pull_request with minimal permissions and cancels stale runs", () => {
    assert.deepEqual(Object.keys(wf.on), ["pull_request"]);
    assert.deepEqual(wf.permissions, { contents: "read", "pull-requests": "write" });
    assert.equal(wf.concurrency?.["cancel-in-progress"], true);
    assert.match(wf.concurrency?.group ?? "", /pull_request\.number/);
  });

  it("previews dev and prod with pulumi/actions (pinned major), commenting on the PR and editing in place", () => {
    assert.deepEqual(job.strategy?.matrix?.stack, ["dev", "prod"]);
    const pulumiSteps = job.steps.filter((s) => s.uses?.startsWith("pulumi/actions@"));
    assert.equal(pulumiSteps.length, 1);
    const step = pulumiSteps[0] as Step;
    assert.match(step.uses ?? "", /^pulumi\/actions@v\d+$/);
    assert.equal(step.with?.command, "preview");
    assert.equal(step.with?.["comment-on-pr"], true);
    assert.equal(step.with?.["edit-pr-comment"], true);
    assert.match(String(step.with?.["cloud-url"]), /secrets\.PULUMI_BACKEND_URL/);
  });

  it("takes the backend and passphrase from repository secrets and checks them in the first step", () => {
    assert.match(String(job.env?.PULUMI_BACKEND_URL), /secrets\.PULUMI_BACKEND_URL/);
    assert.match(String(job.env?.PULUMI_CONFIG_PASSPHRASE), /secrets\.PULUMI_CONFIG_PASSPHRASE/);
    assert.equal(job.steps[0]?.id, "require-backend");
  });
});

describe("dev-teardown.yml", () => {
  const wf = load("dev-teardown.yml");
  const steps = allSteps(wf);
  it("is manual (stack input) and scheduled", () => {
    assert.ok("workflow_dispatch" in wf.on && "schedule" in wf.on);
    const inputs = (wf.on.workflow_dispatch as { inputs: Record<string, unknown> }).inputs;
    assert.deepEqual(Object.keys(inputs).sort(), ["dry-run", "older-than-hours", "remove-stack", "stack"]);
    assert.deepEqual(wf.permissions, { contents: "read" });
  });

  it("destroys only through the guarded npm run dev:down", () => {
    const runs = steps.map((s) => s.run ?? "").join("\n");
    assert.match(runs, /npm run --silent dev:down -- "\$\{args\[@\]\}"/);
    assert.doesNotMatch(runs, /pulumi (destroy|stack rm)/);
    assert.ok(!steps.some((s) => s.uses?.startsWith("pulumi/actions@") && s.with?.command), "pulumi/actions only installs the CLI here");
  });

  it("checks the backend secrets first, with the same step as preview.yml", () => {
    assert.equal(steps[0]?.id, "require-backend");
    assert.equal(steps[0]?.run, load("preview.yml").jobs.preview?.steps[0]?.run);
  });
});

describe("require-backend step (run for real)", () => {
  const snippet = load("preview.yml").jobs.preview?.steps[0]?.run as string;
  function check(env: Record<string, string>) {
    return spawnSync("bash", ["-eo", "pipefail", "-c", snippet], { encoding: "utf8", env: { PATH: process.env.PATH ?? "", ...env } });
  }

  it("fails clearly when no secret is set", () => {
    const r = check({});
    assert.equal(r.status, 1);
    assert.match(r.stdout, /::error title=Missing repository secrets::set PULUMI_BACKEND_URL/);
  });

  it("names every missing credential of an s3 backend", () => {
    const r = check({ PULUMI_BACKEND_URL: "s3://bucket/redis", AWS_ACCESS_KEY_ID: "x" });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /set AWS_SECRET_ACCESS_KEY PULUMI_CONFIG_PASSPHRASE /);
    assert.doesNotMatch(r.stdout, /AWS_ACCESS_KEY_ID/);
  });

  it("rejects a file:// backend in CI", () => {
    const r = check({ PULUMI_BACKEND_URL: "file:///tmp/state", PULUMI_CONFIG_PASSPHRASE: "p" });
    assert.equal(r.status, 1);
    assert.match(r.stdout, /Unusable Pulumi backend/);
  });

  it("passes with a complete set, without echoing secret values", () => {
    const r = check({ PULUMI_BACKEND_URL: "gs://bucket", GOOGLE_CREDENTIALS: "{}", PULUMI_CONFIG_PASSPHRASE: "hunter2" });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Pulumi backend: gs:\/\//);
    assert.doesNotMatch(r.stdout + r.stderr, /hunter2|bucket/);
    assert.equal(check({ PULUMI_BACKEND_URL: "https://api.pulumi.com", PULUMI_ACCESS_TOKEN: "t" }).status, 0);
  });
});
