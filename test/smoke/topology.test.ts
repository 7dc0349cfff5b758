// smoke/topology.ts: nodes announcing hostnames (external access, cluster-preferred-endpoint-type hostname) are
// addressed by them; the endpoint type is read from a CLUSTER SLOTS reply, since CLUSTER NODES lists both.
import { test } from "node:test";
import assert from "node:assert/strict";
import { endpointTypeOf, parseClusterNodes } from "../../smoke/topology";

const NODES = [
  "a1 10.0.0.10:6379@16379,redis-0.redis.example.com myself,master - 0 0 1 connected 0-8191",
  "b2 10.0.0.11:6379@16379,redis-1.redis.example.com slave a1 0 0 1 connected",
  "c3 10.0.0.12:6379@16379 master - 0 0 2 connected 8192-16383",
].join("\n");

test("addresses: the IP by default, the hostname where one is announced with endpoint hostname", () => {
  assert.deepEqual(parseClusterNodes(NODES).map((n) => n.addr), ["10.0.0.10:6379", "10.0.0.11:6379", "10.0.0.12:6379"]);
  assert.deepEqual(parseClusterNodes(NODES, "hostname").map((n) => n.addr), ["redis-0.redis.example.com:6379", "redis-1.redis.example.com:6379", "10.0.0.12:6379"]);
  assert.equal(parseClusterNodes(NODES, "hostname")[1].hostname, "redis-1.redis.example.com");
});

test("endpoint type from CLUSTER SLOTS: hostname when a node entry starts with a name, else ip (also: no slots, '?')", () => {
  const entry = (host: string, meta: string[]) => [host, 6379, "a1", meta];
  assert.equal(endpointTypeOf([[0, 8191, entry("redis-0.redis.example.com", ["ip", "10.0.0.10"]), entry("redis-1.redis.example.com", ["ip", "10.0.0.11"])]]), "hostname");
  assert.equal(endpointTypeOf([[0, 8191, entry("10.0.0.10", ["hostname", "redis-0.redis.example.com"])]]), "ip");
  assert.equal(endpointTypeOf([[0, 8191, entry("?", [])]]), "ip");
  assert.equal(endpointTypeOf([]), "ip");
  assert.equal(endpointTypeOf("ERR"), "ip");
});
