// CIDR blocks (infra/config/cidr.ts), the one parser of the config and the pods runner: families, prefixes, host
// bits named with the network to write instead, and containment.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cidrProblem, cidrWithin, parseCidr } from "../../../infra/config/cidr";

test("CIDRs: IPv4 and IPv6, prefix within the family, no host bits (named with the network to write instead)", () => {
  assert.deepEqual(parseCidr("203.0.113.0/24"), { address: "203.0.113.0", prefix: 24, family: 4 });
  assert.deepEqual(parseCidr("2001:db8::/32"), { address: "2001:db8::", prefix: 32, family: 6 });
  for (const ok of ["0.0.0.0/0", "::/0", "10.1.2.3/32", "2001:db8::1/128", "::ffff:10.0.0.0/104"]) assert.equal(cidrProblem(ok), undefined, ok);
  assert.match(cidrProblem("203.0.113.7/24")!, /host bits set; write the network 203\.0\.113\.0\/24, or 203\.0\.113\.7\/32/);
  assert.match(cidrProblem("2001:db8:1::/16")!, /write the network 2001::\/16, or 2001:db8:1::\/128/);
  // The longest run of zero groups is the one written as "::" (RFC 5952).
  assert.match(cidrProblem("2001:db8:0:0:1:0:0:1/96")!, /write the network 2001:db8:0:0:1::\/96/);
  assert.match(cidrProblem("10.0.0.0/33")!, /at most \/32/);
  assert.match(cidrProblem("2001:db8::/129")!, /at most \/128/);
  for (const bad of ["10.0.0.0", "office", "10.0.0.256/32", "10.0.0.0/x", "/8"]) assert.match(cidrProblem(bad)!, /must be a CIDR/, bad);
});

test("containment: within itself and its supernets, never across families", () => {
  assert.ok(cidrWithin("10.244.0.0/16", "0.0.0.0/0"));
  assert.ok(cidrWithin("10.244.0.0/16", "10.0.0.0/8"));
  assert.ok(cidrWithin("10.244.0.0/16", "10.244.0.0/16"));
  assert.ok(!cidrWithin("10.0.0.0/8", "10.244.0.0/16"));
  assert.ok(!cidrWithin("10.245.0.0/16", "10.244.0.0/16"));
  assert.ok(cidrWithin("fd00:10::/64", "::/0"));
  assert.ok(!cidrWithin("10.244.0.0/16", "::/0"), "an IPv4 block is in no IPv6 one");
  assert.ok(!cidrWithin("::ffff:10.0.0.0/104", "0.0.0.0/0"));
});
