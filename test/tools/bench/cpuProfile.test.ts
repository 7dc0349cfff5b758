// The preview benchmark's profile breakdown (tools/bench/cpuProfile.ts): each sample's time goes to the owner of the
// code it was in, checked on a made-up profile and on a real `node --cpu-prof` of a busy loop.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ownerTable, profileDuring, timeByFunction, timeByOwner, type CpuProfile } from "../../../tools/bench/cpuProfile";

let dir: string;
before(() => (dir = mkdtempSync(join(tmpdir(), "cpu-profile-"))));
after(() => rmSync(dir, { recursive: true, force: true }));

test("owners: packages (scoped too), the repository's directories, module compiles, Node's internals, V8's own", () => {
  const frame = (id: number, functionName: string, url: string) => ({ id, callFrame: { functionName, url } });
  const p: CpuProfile = {
    nodes: [
      frame(1, "(root)", ""),
      frame(2, "(idle)", ""),
      frame(3, "register", "file:///r/node_modules/@pulumi/pulumi/runtime/resource.js"),
      frame(4, "parse", "file:///r/node_modules/zod/v4/core/schemas.cjs"),
      frame(5, "plan", "file:///r/infra/plan/scaling.ts"),
      frame(6, "wrapSafe", "node:internal/modules/cjs/loader"),
      frame(7, "readFileSync", "node:fs"),
      frame(8, "(garbage collector)", ""),
    ],
    samples: [2, 3, 3, 4, 5, 6, 7, 8, 2],
    timeDeltas: [1000, 2000, 2000, 500, 250, 3000, 100, 700, 1000],
  };
  const o = timeByOwner(p, "/r");
  assert.deepEqual(Object.fromEntries(o), {
    "(idle)": 2,
    "@pulumi/pulumi": 4,
    zod: 0.5,
    "repo:infra": 0.25,
    "(compile)": 3,
    "node:": 0.1,
    "(garbage collector)": 0.7,
  });
  assert.match(ownerTable(o, new Map([["@pulumi/pulumi", 1]]))[0], /^ +4 ms +1 ms  @pulumi\/pulumi$/);
});

test("a real profile: a busy loop in a file of the root is the root's directory's time", () => {
  const root = join(dir, "root");
  mkdirSync(join(root, "src"), { recursive: true });
  writeFileSync(join(root, "src", "busy.js"), "const end = Date.now() + 300;\nlet x = 0;\nwhile (Date.now() < end) x += Math.sqrt(x + 1);\n");
  const r = spawnSync(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${join(dir, "prof")}`, join(root, "src", "busy.js")], { encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const [file] = readdirSync(join(dir, "prof"));
  const o = timeByOwner(JSON.parse(readFileSync(join(dir, "prof", file), "utf8")), root);
  const busy = o.get("repo:src") ?? 0;
  const total = [...o.values()].reduce((a, b) => a + b, 0);
  assert.ok(busy > 0.5 * total, `the loop's share: ${busy.toFixed(0)} of ${total.toFixed(0)} ms (${JSON.stringify(Object.fromEntries(o))})`);
});

test("functions: self time by name and place, relative to the root; V8's own entries by their names", () => {
  const p: CpuProfile = {
    nodes: [
      { id: 1, callFrame: { functionName: "(idle)", url: "" } },
      { id: 2, callFrame: { functionName: "issue", url: "file:///r/smoke/load/generator.ts", lineNumber: 9 } },
      { id: 3, callFrame: { functionName: "", url: "node:net", lineNumber: 0 } },
      { id: 4, callFrame: { functionName: "issue", url: "file:///r/smoke/load/generator.ts", lineNumber: 9 } },
    ],
    samples: [1, 2, 3, 4],
    timeDeltas: [1000, 2000, 500, 1000],
  };
  assert.deepEqual(Object.fromEntries(timeByFunction(p, "/r")), { "(idle)": 1, "issue (smoke/load/generator.ts:10)": 3, "(anonymous) (node:net:1)": 0.5 });
});

test("profileDuring: a profile of this process while the function runs, which names the busy function", async () => {
  function busyForProfile(ms: number): number {
    const end = Date.now() + ms;
    let x = 0;
    while (Date.now() < end) x += Math.sqrt(x + 1);
    return x;
  }
  const { result, profile } = await profileDuring(async () => busyForProfile(300));
  assert.ok(result > 0);
  const f = [...timeByFunction(profile, process.cwd())].filter(([k]) => k.startsWith("busyForProfile ")).reduce((s, [, v]) => s + v, 0);
  const total = [...timeByFunction(profile, process.cwd()).values()].reduce((a, b) => a + b, 0);
  assert.ok(f > 0.5 * total, `busyForProfile: ${f.toFixed(0)} of ${total.toFixed(0)} ms`);
  // A failing function's error reaches the caller.
  await assert.rejects(profileDuring(async () => Promise.reject(new Error("boom"))), /boom/);
});
