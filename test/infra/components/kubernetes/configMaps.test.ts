// The ConfigMaps' files: every script with what it sources (lib.sh), the plan's entrypoint.sh and bootstrap.sh, and a
// checksum that follows every pod file.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bootstrapFiles, configChecksum, podFiles } from "../../../../infra/components/kubernetes/configMaps";
import { sourcedFiles } from "../../../../infra/plan/scripts";
import { prodContext } from "./fixtures";

const { plan } = prodContext();
/** Files some shipped script sources that the same ConfigMap lacks. */
const missing = (files: Record<string, string>) => Object.values(files).flatMap(sourcedFiles).filter((f) => !(f in files));

test("pod files: redis.conf, the plan's entrypoint.sh, the hooks and what they source", () => {
  const files = podFiles(plan);
  assert.equal(files["redis.conf"], plan.redisConf);
  assert.equal(files["entrypoint.sh"], plan.entrypointScript);
  for (const f of ["refresh-peers.sh", "prestop.sh", "probe.sh", "lib.sh"]) assert.ok(files[f], f);
  assert.deepEqual(missing(files), []);
  assert.ok(!("bootstrap.sh" in files), "bootstrap.sh is the Jobs' (a change must not restart pods)");
});

test("Job files: the plan's bootstrap.sh, rotate.sh only with ACL users, and what they source", () => {
  const changed = { ...plan, bootstrapScript: `${plan.bootstrapScript}\n# changed\n` };
  assert.equal(bootstrapFiles(changed, false)["bootstrap.sh"], changed.bootstrapScript);
  assert.ok(!("rotate.sh" in bootstrapFiles(plan, false)));
  assert.ok("rotate.sh" in bootstrapFiles(plan, true));
  for (const withRotate of [false, true]) assert.deepEqual(missing(bootstrapFiles(plan, withRotate)), [], `withRotate ${withRotate}`);
});

test("the pods' checksum changes with any of their files", () => {
  const files = podFiles(plan);
  const sum = configChecksum(files);
  assert.equal(configChecksum({ ...files }), sum);
  for (const f of Object.keys(files)) assert.notEqual(configChecksum({ ...files, [f]: `${files[f]} ` }), sum, f);
});
