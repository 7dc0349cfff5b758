// The pods runner's teardown verdict: anything left fails, and so does not being able to look for cgroups.
import { test } from "node:test";
import assert from "node:assert/strict";
import { leftoverFailures } from "../../../testbed/pods/daemon";

const clean = { mountsLeft: [], dirLeft: false, daemonAlive: false, bridgeLeft: false };

test("nothing left and the cgroups looked at: no failure", () => {
  assert.deepEqual(leftoverFailures(clean, []), []);
});

test("no CPU ledger (cgroups not looked at) fails loudly instead of passing", () => {
  const out = leftoverFailures(clean, undefined);
  assert.equal(out.length, 1);
  assert.match(out[0], /cgroups not checked: no CPU ledger/);
});

test("each kind of leftover is named", () => {
  const out = leftoverFailures({ mountsLeft: ["/m"], dirLeft: true, daemonAlive: true, bridgeLeft: true }, ["/sys/fs/cgroup/cpuacct/rc-pods-1"]);
  assert.equal(out.length, 5, out.join("\n"));
  assert.match(out.join("\n"), /mounts left: \/m/);
  assert.match(out.join("\n"), /cgroups left: \/sys\/fs\/cgroup\/cpuacct\/rc-pods-1/);
});
