// The pods' network on the pods runner (testbed/pods/podNetwork.ts): a fixture program through the test engine, as
// `pulumi up` runs it. A Job reaches a ClusterIP Service by its DNS name (virtual IP, DNAT to a Ready pod), admitted
// by a NetworkPolicy through its client label; a pod the policy does not admit cannot connect; host clients reach
// the Service through its forward, which follows readiness; and the deliberately wrong policy (bus port missing)
// keeps two Redis nodes from ever forming a cluster, where the right one lets them. The teardown leaves nothing.
import { test } from "node:test";
import { podsRunnerFixture } from "./runnerFixture";
import assert from "node:assert/strict";
import { connect } from "node:net";
import Redis from "ioredis";
import { execIn } from "../../../testbed/pods/pod";
import { sleep } from "../../../smoke/time";

const fx = podsRunnerFixture();

const UP = { stack: "pods-selftest", stackConfig: {}, program: "test/testbed/pods/fixtures/network.ts", timeoutMs: 120_000 };

/** One node's view of the other: "connected" once the handshake is done over the bus, else its flags and link. */
async function linkTo(ip: string, other: string): Promise<string> {
  const r = new Redis({ host: ip, port: 6379, lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  r.on("error", () => undefined);
  try {
    await r.connect();
    const line = ((await r.cluster("NODES")) as string).split("\n").find((l) => l.split(" ")[1]?.startsWith(`${other}:`));
    if (!line) return "unknown";
    const f = line.split(" ");
    return /handshake|fail|noaddr/.test(f[2]) ? f[2] : f[7];
  } finally {
    r.disconnect();
  }
}

test("Services route to Ready pods, NetworkPolicy admits what it lists and nothing else; a policy without the bus port breaks the cluster", { timeout: 170_000 }, async () => {
  const r = await fx.start();
  const up = await r.up(UP);
  // The ping Job resolved good-client.fixture.svc.cluster.local and reached a good pod through the virtual IP.
  assert.ok(up.run.ok, up.run.errors.join("\n"));
  assert.deepEqual(up.jobs.map((j) => `${j.name} ${j.reason}`), ["ping Complete"]);
  const vip = up.run.resources.find((x) => x.name === "good-client")?.outputs.spec.clusterIP;
  assert.match(vip, /^10\.96\.0\.\d+$/);
  const ip = (pod: string) => r.pod(pod).ip;
  const sh = (pod: string, cmd: string) => execIn(r.env.docker, r.pod(pod).containers[0].id, ["sh", "-c", cmd], undefined, 15_000);

  // Inside a pod: the Service by name and by virtual IP; its headless twin names each pod.
  assert.equal((await sh("good-0", "redis-cli -h good-client.fixture.svc.cluster.local ping")).output.trim(), "PONG");
  assert.equal((await sh("good-1", `redis-cli -h ${vip} ping`)).output.trim(), "PONG");
  const hosts = (await sh("good-0", "getent ahostsv4 good-headless.fixture.svc.cluster.local | awk '{print $1}' | sort -u")).output.trim().split("\n");
  assert.deepEqual(hosts, [ip("good-0"), ip("good-1")].sort());

  // Not admitted: a bad pod (no client label, not app=good) cannot reach a good pod; a good pod reaches a bad one
  // only on the port its policy lists (6379 from app=bad only: good pods are not admitted either).
  const blocked = await sh("bad-0", `timeout 3 redis-cli -h ${ip("good-0")} ping; echo "exit $?"`);
  assert.match(blocked.output, /exit 124/, `connection not dropped: ${blocked.output}`);
  const fromGood = await sh("good-0", `timeout 3 redis-cli -h ${ip("bad-1")} ping; echo "exit $?"`);
  assert.match(fromGood.output, /exit 124/, fromGood.output);
  assert.equal((await sh("bad-0", `redis-cli -h ${ip("bad-1")} ping`)).output.trim(), "PONG");

  // The wrong policy: MEET is sent on both pairs from the host (the node is always admitted). The good pair
  // completes the handshake over the bus; the bad pair never does.
  for (const [a, b] of [["good-0", "good-1"], ["bad-0", "bad-1"]]) {
    const c = new Redis({ host: ip(a), port: 6379, maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      assert.equal(await c.cluster("MEET", ip(b), "6379"), "OK");
    } finally {
      c.disconnect();
    }
  }
  let good = "";
  for (const until = Date.now() + 20_000; Date.now() < until && good !== "connected"; await sleep(250)) good = await linkTo(ip("good-0"), ip("good-1"));
  assert.equal(good, "connected", "the right policy lets the bus through");
  const seen = new Set<string>();
  for (const until = Date.now() + 6_000; Date.now() < until; await sleep(250)) seen.add(await linkTo(ip("bad-0"), ip("bad-1")));
  assert.ok(!seen.has("connected"), `bad-0 saw bad-1 ${[...seen].join(", ")}`);

  // Host clients: the Service's forward, endpoints following readiness (a held, deleted pod is no endpoint).
  const f = await r.forwardService("good-client", 6379, "fixture");
  const ping = () =>
    new Promise<string>((ok, fail) => {
      const s = connect(f.port, f.host, () => s.write("PING\r\n"));
      s.setTimeout(3000, () => s.destroy(new Error("timeout")));
      s.once("data", (d) => {
        ok(d.toString().trim());
        s.end();
      });
      s.once("error", fail);
    });
  for (let i = 0; i < 10; i++) assert.equal(await ping(), "+PONG");
  assert.equal([...f.connections.values()].reduce((a, b) => a + b, 0), 10);
  r.hold("good-1");
  const gone = ip("good-1");
  await r.deletePod("good-1", "force");
  f.connections.clear();
  for (let i = 0; i < 10; i++) assert.equal(await ping(), "+PONG");
  assert.deepEqual([...f.connections.keys()], [`${ip("good-0")}:6379`], `not only to good-0 (${gone} deleted)`);

  assert.deepEqual(await fx.finish(), [], "the runner leaves no daemon, mount, directory, bridge or cgroup");
  console.log(`network test: ${Date.now() - fx.t0} ms`);
});
