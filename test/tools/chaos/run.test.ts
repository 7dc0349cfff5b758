// The short chaos run of `npm test` (the 10-minute one is `npm run chaos`): the dev stack's plan, each node in its own
// network namespace, the first bootstrap killed part-way, a master partitioned from the other nodes (its clients still
// reach it) and a master killed -9; the checker must pass and nothing of the run may be left on the host.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { runChaos } from "../../../tools/chaos/run";
import { NetLab } from "../../../tools/chaos/netlab";
import { SHORT } from "../../../tools/chaos/cli-options";
import { markdownTable, summary } from "../../../tools/chaos/report";

test("NetLab: namespaces, veths, bridge and FORWARD rule are all removed by teardown", () => {
  const lab = new NetLab(2);
  try {
    lab.create();
    assert.equal(spawnSync("ip", ["netns", "exec", lab.ns(0), "ip", "-o", "addr", "show", "eth0"], { encoding: "utf8" }).stdout.includes(lab.nodeIps[0]), true);
    lab.cut(0, [lab.nodeIps[1]]);
    assert.match(spawnSync("ip", ["netns", "exec", lab.ns(0), "iptables", "-S", "OUTPUT"], { encoding: "utf8" }).stdout, new RegExp(`-d ${lab.nodeIps[1].replace(/\./g, "\\.")}/32 -j DROP`));
  } finally {
    assert.deepEqual(lab.teardown(), []);
  }
  assert.deepEqual(lab.leftovers(), []);
});

test("NetLab: a lab that chose a /24 another lab has taken meanwhile moves to a free one", () => {
  const first = new NetLab(1);
  let second: NetLab | undefined;
  try {
    first.create();
    const taken = first.subnet;
    second = new NetLab(1, Number(taken.split(".")[2]));
    second.create();
    assert.notEqual(second.subnet, taken);
    const addrs = spawnSync("ip", ["-4", "-o", "addr"], { encoding: "utf8" }).stdout;
    assert.equal(addrs.split("\n").filter((l) => l.includes(` inet ${first.hostIp}/`)).length, 1, "the first lab's address only on its bridge");
    assert.ok(addrs.includes(` inet ${second.hostIp}/24`));
  } finally {
    assert.deepEqual([...first.teardown(), ...(second?.teardown() ?? [])], []);
  }
  assert.deepEqual([...first.leftovers(), ...(second?.leftovers() ?? [])], []);
});

test("short chaos run: no WAIT-acknowledged write lost, clean final cluster, replicas equal, nothing left behind", { timeout: 200_000 }, async () => {
  const t0 = Date.now();
  const r = await runChaos({ ...SHORT, log: (l) => console.log(`# ${l}`) });
  console.log(`# ${((Date.now() - t0) / 1000).toFixed(0)} s\n${markdownTable(r.verdict).replace(/^/gm, "# ")}\n${summary(r.verdict, r.history).replace(/^/gm, "# ")}`);
  assert.deepEqual(r.leftovers, [], "every namespace, link, rule and process removed");
  assert.deepEqual(r.verdict.failures, []);
  assert.equal(r.verdict.lost.wait.length, 0);
  assert.ok(r.verdict.ops.ackedWait > 100, `enough WAIT-acknowledged writes to judge (${r.verdict.ops.ackedWait})`);
  assert.deepEqual(r.history.faults.map((f) => f.name), ["bootstrap-killed", "partition-master", "kill-master"]);
  for (const f of r.history.faults.slice(1)) assert.ok(f.promotionMs !== undefined, `${f.name}: a replica was promoted`);
  assert.ok(r.verdict.clusterCheckClean);
  assert.ok(r.verdict.replicasEqual);
});
