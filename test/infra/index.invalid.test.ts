// Bad stack config fails program evaluation with every problem named by key, before any resource exists.
import { test } from "node:test";
import assert from "node:assert/strict";
import { engineConfig } from "../helpers/stackConfig";
import { installMocks } from "../helpers/pulumiMocks";

const mocks = installMocks({
  config: engineConfig("dev", {
    "redis-cluster:masters": 2,
    "redis-cluster:replicasPerMaster": "one",
    "redis-cluster:maxmemory": "lots",
    "redis-cluster:appendfsync": "sometimes",
    "redis-cluster:mastres": 3,
  }),
});

test("invalid dev config: one error lists every problem and no resource is registered", async () => {
  await assert.rejects(
    () => import("../../infra/index"),
    (e: Error) => {
      for (const expected of [
        "redis-cluster:masters must be >= 3, got 2",
        'redis-cluster:replicasPerMaster must be a number, got "one"',
        'redis-cluster:maxmemory must be a redis.conf size like 512mb or 2gb, got "lots"',
        'redis-cluster:appendfsync must be one of "always", "everysec", "no", got "sometimes"',
        "redis-cluster:mastres is not a known setting — did you mean masters?",
      ]) {
        assert.ok(e.message.includes(expected), `missing "${expected}" in:\n${e.message}`);
      }
      assert.match(e.message, /Invalid stack config \(5 problems\)/);
      return true;
    },
  );
  assert.deepEqual(mocks.resources.map((r) => r.type), []);
});
