// The kubelet behaviours the pods runner emulates on the host's files, before any container runs: fsGroup ownership
// by fsGroupChangePolicy, ConfigMap/Secret items with their own modes, and the ServiceAccount admission check.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyFsGroup, Pod, volumeFiles, writeTree, type PodEnv } from "../../../testbed/pods/pod";

const root = mkdtempSync(join(tmpdir(), "pods-pod-test-"));
after(() => rmSync(root, { recursive: true, force: true }));
const asRoot = process.getuid?.() === 0;
const FS_GROUP = 4242;

/** A claim whose root already has fsGroup, and a file inside it that lost it (written by another group). */
function claim(name: string): { dir: string; file: string } {
  const dir = join(root, name);
  mkdirSync(dir);
  chownSync(dir, 0, FS_GROUP);
  chmodSync(dir, 0o2775);
  const file = join(dir, "dump.rdb");
  writeFileSync(file, "x");
  chownSync(file, 999, 999);
  chmodSync(file, 0o600);
  return { dir, file };
}

test("fsGroupChangePolicy Always changes every entry on every start; OnRootMismatch leaves a matching root alone", () => {
  assert.ok(asRoot, "needs root (chown to another group), as the pods runner itself does: run the tests as root");
  const a = claim("always");
  assert.equal(applyFsGroup(a.dir, FS_GROUP, "Always"), 1);
  const st = statSync(a.file);
  assert.equal(st.gid, FS_GROUP);
  assert.equal(st.uid, 999, "the owner stays");
  assert.equal(st.mode & 0o7777, 0o660);
  assert.equal(applyFsGroup(a.dir, FS_GROUP, "Always"), 0, "nothing left to change");

  const o = claim("on-root-mismatch");
  assert.equal(applyFsGroup(o.dir, FS_GROUP, "OnRootMismatch"), 0);
  assert.equal(statSync(o.file).gid, 999);
  chownSync(o.dir, 0, 0);
  assert.equal(applyFsGroup(o.dir, FS_GROUP, "OnRootMismatch"), 2, "a mismatching root: the whole volume");
  assert.equal(statSync(o.file).gid, FS_GROUP);
  assert.equal(statSync(o.dir).mode & 0o7777, 0o2775);
});

test("items[].mode sets each file's mode; without it the volume's defaultMode; fsGroup adds group read", () => {
  assert.ok(asRoot, "needs root (chown to another group), as the pods runner itself does: run the tests as root");
  const dir = join(root, "secret");
  const files = volumeFiles("Secret s", { a: "1", b: "2" }, [{ key: "a", path: "a" }, { key: "b", path: "sub/b", mode: 0o400 }], false);
  writeTree(dir, files, 0o644, undefined);
  assert.equal(statSync(join(dir, "a")).mode & 0o777, 0o644);
  assert.equal(statSync(join(dir, "sub/b")).mode & 0o777, 0o400);
  writeTree(join(root, "secret-fsgroup"), files, 0o644, FS_GROUP);
  assert.equal(statSync(join(root, "secret-fsgroup", "sub/b")).mode & 0o777, 0o440);
  assert.throws(() => volumeFiles("Secret s", { a: "1" }, [{ key: "nope", path: "n" }], false), /Secret s has no key nope/);
  assert.deepEqual(volumeFiles("Secret s", { a: "1" }, [{ key: "nope", path: "n" }], true), {});
});

test("serviceAccountName must name a ServiceAccount of the pod's namespace (the API server's admission)", async () => {
  const env = { hasServiceAccount: (ns: string, name: string) => ns === "redis" && name === "sa" } as unknown as PodEnv;
  const spec = { serviceAccountName: "missing", containers: [{ name: "c", image: "redis" }] };
  const pod = new Pod(env, { name: "p-0", namespace: "redis", labels: {}, spec, dir: join(root, "pod") });
  await assert.rejects(pod.start(), /serviceAccountName missing: no ServiceAccount redis\/missing/);
});
