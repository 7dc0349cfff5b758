// The canary CLI's --nat-map (smoke/canary/cli.ts, on zod/mini for the canary bundle's weight): an ioredis natMap
// of non-empty hosts and ports 1-65535 with no other field is taken as given; anything else is a usage error.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildCanaryProgram } from "../../../smoke/canary/cli";

function natMap(json: string): unknown {
  const program = buildCanaryProgram().exitOverride().configureOutput({ writeErr: () => {} });
  return program.parse(["--nodes", "10.0.0.1:6379", "--nat-map", json], { from: "user" }).opts().natMap;
}

test("a natMap is taken as given", () => {
  const map = { "10.0.0.1:6379": { host: "127.0.0.1", port: 7001 }, "10.0.0.2:6379": { host: "localhost", port: 65535 } };
  assert.deepEqual(natMap(JSON.stringify(map)), map);
  assert.deepEqual(natMap("{}"), {});
});

test("a natMap that is not JSON, or not one of host and port per address, is refused", () => {
  assert.throws(() => natMap("{"), /not JSON/);
  for (const bad of [[], null, "x", { a: null }, { a: { host: "", port: 1 } }, { a: { host: "h", port: 0 } }, { a: { host: "h", port: 65536 } },
    { a: { host: "h", port: 1.5 } }, { a: { host: "h", port: "1" } }, { a: { host: "h" } }, { a: { host: "h", port: 1, tls: true } }]) {
    assert.throws(() => natMap(JSON.stringify(bad)), /expected \{"ip:port": \{"host": "\.\.\.", "port": N\}, …\}/, JSON.stringify(bad));
  }
});
