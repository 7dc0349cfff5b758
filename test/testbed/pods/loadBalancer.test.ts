// LoadBalancer Services on the pods runner (testbed/pods/loadBalancer.ts) and the client outside the cluster
// (testbed/pods/outsideClient.ts). The pure half: what the runner refuses by name, the pool, the node's rules. The
// real half: a fixture program (fixtures/loadBalancer.ts) through the test engine, as `pulumi up` runs it; from the
// outside namespace the pods are reached only through the load balancers, by the names external-dns would publish,
// within each Service's source ranges, with the client's address kept (Local) or masqueraded (Cluster) and the
// NetworkPolicy's ipBlock deciding (its except keeping a pod of another app out); the pods reach the ingress addresses directly; a pod IP is not reachable from
// outside; a scale-out adds a pod and its Service, a scale-in removes both (the name stops resolving); nothing left.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { checkStored } from "../../../testbed/pods/resources/validate";
import { LoadBalancerPool, hostnamesOf, lbServices, nodeRules } from "../../../testbed/pods/loadBalancer";
import { execIn } from "../../../testbed/pods/pod";
import type { NetPod } from "../../../testbed/pods/serviceProxy";
import { sleep } from "../../../smoke/time";
import { podsRunnerFixture } from "./runnerFixture";

const lbService = (spec: object, annotations?: Record<string, string>) => ({
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "s", namespace: "ns", ...(annotations ? { annotations } : {}) },
  spec: { type: "LoadBalancer", selector: { app: "a" }, ports: [{ name: "redis", port: 6379, targetPort: "redis" }], ...spec },
});

/** Every emulated field set; both external-dns keys, as the prod program writes them. */
const ok = lbService({ externalTrafficPolicy: "Local", loadBalancerSourceRanges: ["198.51.100.0/24", "2001:db8::/32"], loadBalancerIP: "203.0.113.9", allocateLoadBalancerNodePorts: false }, {
  "external-dns.alpha.kubernetes.io/hostname": "a.example.com,b.example.com.",
  "external-dns.kubernetes.io/hostname": "a.example.com",
});

test("LoadBalancer fields: emulated ones pass, the rest is refused by name", () => {
  assert.doesNotThrow(() => checkStored("Service", ok, "Service ns/s"));
  const cases: [object, RegExp][] = [
    [lbService({ type: "NodePort" }), /spec\.type NodePort: implemented are ClusterIP and LoadBalancer/],
    [lbService({ ports: [{ name: "redis", port: 6379, nodePort: 30001 }] }), /port redis sets 'nodePort': a fixed node port is not implemented/],
    [lbService({ sessionAffinity: "ClientIP" }), /'sessionAffinity'/],
    [lbService({ healthCheckNodePort: 30002 }), /'healthCheckNodePort'/],
    [lbService({ loadBalancerClass: "x" }), /'loadBalancerClass'/],
    [lbService({ externalIPs: ["1.2.3.4"] }), /'externalIPs'/],
    [lbService({ loadBalancerSourceRanges: ["10.0.0.300/8"] }), /loadBalancerSourceRanges 10\.0\.0\.300\/8 must be a CIDR/],
    [lbService({ loadBalancerIP: "x" }), /not an IPv4 address/],
    [lbService({ externalTrafficPolicy: "Nearest" }), /externalTrafficPolicy/],
    [lbService({ allocateLoadBalancerNodePorts: false }), /allocateLoadBalancerNodePorts false with externalTrafficPolicy Cluster/],
    [lbService({ clusterIP: "None" }), /headless\) is not allowed/],
    [lbService({ type: "ClusterIP", loadBalancerSourceRanges: ["10.0.0.0/8"] }), /loadBalancerSourceRanges may only be set when spec.type is LoadBalancer/],
    [lbService({}, { "service.beta.kubernetes.io/aws-load-balancer-type": "nlb" }), /'service\.beta\.kubernetes\.io\/aws-load-balancer-type'/],
    [lbService({}, { "external-dns.alpha.kubernetes.io/hostname": "bad_name.example.com" }), /not a DNS name/],
  ];
  for (const [svc, re] of cases) assert.throws(() => checkStored("Service", svc, "Service ns/s"), re, JSON.stringify(svc));
});

test("the pool: an address per Service kept across updates, loadBalancerIP only inside the pool and free, node ports unique", () => {
  const pool = new LoadBalancerPool();
  const a = lbService({});
  const b = { ...lbService({ loadBalancerIP: "203.0.113.10" }), metadata: { name: "b", namespace: "ns" } };
  assert.equal(pool.assign(a, "a"), "203.0.113.10");
  assert.equal(pool.assign(a, "a"), "203.0.113.10", "kept");
  assert.throws(() => pool.assign(b, "b"), /203\.0\.113\.10 is taken by Service ns\/s/);
  assert.throws(() => pool.assign(lbService({ loadBalancerIP: "10.0.0.1" }), "c"), /outside the runner's load balancer pool 203\.0\.113\.10-250/);
  pool.release("ns/s");
  assert.equal(pool.assign(b, "b"), "203.0.113.10", "released, then free");
  const pa = pool.allocateNodePorts(a);
  const pb = pool.allocateNodePorts(b);
  assert.notEqual(pa.get(6379), pb.get(6379));
  assert.ok(pa.get(6379)! >= 30000 && pa.get(6379)! <= 32767);
  assert.equal(pool.allocateNodePorts(lbService({ allocateLoadBalancerNodePorts: false })).size, 0);
});

test("the node's rules: DNAT for the source ranges only, masquerade for Cluster and not for Local, reset without endpoints", () => {
  const pod: NetPod = { name: "p", namespace: "ns", labels: { app: "a" }, ip: "10.1.0.10", ready: true, phase: "Running", deleting: false, spec: { containers: [{ ports: [{ name: "redis", containerPort: 6379 }] }] } };
  const pool = new LoadBalancerPool();
  const local = lbService({ externalTrafficPolicy: "Local", loadBalancerSourceRanges: ["198.51.100.0/24", "192.0.2.0/24"] });
  const cluster = { ...lbService({ selector: { app: "none" } }), metadata: { name: "c", namespace: "ns" } };
  for (const s of [local, cluster]) {
    pool.assign(s, "s");
    pool.allocateNodePorts(s);
  }
  const text = nodeRules(lbServices([local, cluster], pool), [pod], "10.1.0.2", "rclx", true);
  const lines = text.split("\n");
  assert.deepEqual(lines.filter((l) => l.includes("-d 203.0.113.10/32") && l.includes("DNAT")), [
    "-A RC-LB-PRE -d 203.0.113.10/32 -p tcp --dport 6379 -s 198.51.100.0/24 -j DNAT --to-destination 10.1.0.10:6379",
    "-A RC-LB-PRE -d 203.0.113.10/32 -p tcp --dport 6379 -s 192.0.2.0/24 -j DNAT --to-destination 10.1.0.10:6379",
  ]);
  assert.ok(!lines.some((l) => l.includes("--ctorigdst 203.0.113.10/32") && l.includes("MASQUERADE")), "Local keeps the client's address");
  assert.ok(lines.includes("-A RC-LB-POST -o eth0 -m conntrack --ctstate DNAT --ctorigdst 203.0.113.11/32 --ctorigdstport 6379 -j MASQUERADE"));
  assert.ok(lines.includes("-A RC-LB-FWD -d 203.0.113.11/32 -p tcp --dport 6379 -j REJECT --reject-with tcp-reset"), "no endpoint: reset");
  assert.ok(lines.includes(":FORWARD DROP [0:0]") && lines.includes("-A RC-LB-FWD -m conntrack --ctstate DNAT -j ACCEPT"));
  // IPv6 ranges only (the pods' network is IPv4): no client is DNATed.
  const v6 = { ...lbService({ loadBalancerSourceRanges: ["::/0"] }), metadata: { name: "v6", namespace: "ns" } };
  pool.assign(v6, "v6");
  assert.ok(!nodeRules(lbServices([v6], pool), [pod], "10.1.0.2", "rclx", false).includes("DNAT --to"));
  assert.deepEqual(hostnamesOf(ok), ["a.example.com", "b.example.com"], "both external-dns keys, each name once");
});

const fx = podsRunnerFixture();
const UP = { stack: "pods-selftest", program: "test/testbed/pods/fixtures/loadBalancer.ts", timeoutMs: 150_000 };

test("from outside: only through the load balancers, by their published names, within their source ranges; scale-out and -in", { timeout: 280_000 }, async () => {
  const r = await fx.start();
  let up = await r.up({ ...UP, stackConfig: { "fixture:replicas": 2 } });
  assert.ok(up.run.ok, up.run.errors.join("\n"));
  const outputs = (name: string) => up.run.resources.find((x) => x.name === name)?.outputs ?? {};
  const ingress = (name: string) => outputs(name).status?.loadBalancer?.ingress?.[0]?.ip;
  assert.equal(ingress("lb-0-external"), "203.0.113.50", "loadBalancerIP honoured");
  assert.match(ingress("lb-1-external"), /^203\.0\.113\.\d+$/);
  assert.ok(outputs("lb-any").spec.ports[0].nodePort >= 30000, "a node port allocated and reported");
  const ip = (pod: string) => r.pod(pod).ip;
  const out = r.outside;
  const cli = async (host: string, ...args: string[]) => {
    const x = await out.run(["timeout", "4", "redis-cli", "-h", host, ...args], { timeoutMs: 10_000 });
    return x.code === 124 ? "timeout" : (x.stdout + x.stderr).trim();
  };

  // The external zone: published names resolve outside, others do not.
  const getent = async (name: string) => (await out.run(["getent", "hosts", name], { timeoutMs: 5000 })).stdout.trim().split(/\s+/)[0] ?? "";
  assert.equal(await getent("lb-0.ext.example.com"), "203.0.113.50");
  assert.equal(await getent("lb-headless.fixture.svc.cluster.local"), "", "cluster names do not resolve outside");

  // Through pod 0's load balancer: pod 0 itself, the client's own address kept (Local), admitted by the ipBlock.
  const info = await cli("lb-0.ext.example.com", "CLIENT", "INFO");
  assert.match(info, new RegExp(`addr=${out.ip.replace(/\./g, "\\.")}:\\d+ laddr=${ip("lb-0").replace(/\./g, "\\.")}:6379`), info);
  // Pod 1's load balancer admits 192.0.2.0/24 only: dropped at the load balancer.
  assert.equal(await cli("lb-1.ext.example.com", "PING"), "timeout");
  // The Cluster policy masquerades the client to the load balancer node's address (the policy admits it as a node's).
  const anyInfo = await cli("any.ext.example.com", "CLIENT", "INFO");
  assert.match(anyInfo, new RegExp(`addr=${r.prefix.replace(/\./g, "\\.")}\\.2:\\d+ `), anyInfo);
  // No way in but the load balancers: a pod IP, directly.
  assert.equal(await out.connect(ip("lb-0"), 6379), "timeout", "a pod IP must not be reachable from outside");

  // Inside: a pod reaches an ingress address (kube-proxy's short-circuit: a Local one directly, a Cluster one
  // masqueraded to the node), under its source ranges, and resolves the external names (its DNS forwards upstream).
  const sh = async (pod: string, cmd: string) => (await execIn(r.env.docker, r.pod(pod).containers[0].id, ["sh", "-c", cmd], undefined, 15_000)).output.trim();
  assert.equal(await sh("lb-1", "getent hosts lb-0.ext.example.com | cut -d' ' -f1"), "203.0.113.50");
  assert.equal(await sh("lb-0", "redis-cli -h any.ext.example.com ping"), "PONG");
  assert.match(await sh("lb-1", "timeout 3 redis-cli -h lb-0.ext.example.com ping; echo exit $?"), /exit 124/, "pods are outside pod 0's source range");
  // The policy's 0.0.0.0/0 excepts the pods' network: a pod it names gets in, a stranger does not (the outside client
  // did, above).
  assert.equal(await sh("lb-1", `redis-cli -h ${ip("lb-0")} ping`), "PONG");
  assert.match(await sh("stranger-0", `timeout 3 redis-cli -h ${ip("lb-0")} ping; echo exit $?`), /exit 124/, "a pod of another app is not admitted by the ipBlock");
  // Through the Cluster-policy load balancer a pod's connection is masqueraded to a node address (kube-proxy), which
  // the policy admits as its node's: the stranger gets in that way, seen as the load balancer node.
  assert.match(await sh("stranger-0", "redis-cli -h any.ext.example.com client info"), new RegExp(`addr=${r.prefix.replace(/\./g, "\\.")}\\.2:\\d+ `));
  assert.match(await sh("lb-1", "redis-cli -h any.ext.example.com client info"), new RegExp(`addr=${r.prefix.replace(/\./g, "\\.")}\\.2:\\d+ `), "a pod the policy names: masqueraded too");

  // The node port, from the pods' network (the host here): to a pod of lb-any.
  const np = outputs("lb-any").spec.ports[0].nodePort;
  const viaNodePort = spawnSync("redis-cli", ["-h", `${r.prefix}.2`, "-p", String(np), "ping"], { encoding: "utf8", timeout: 5000 });
  assert.equal(viaNodePort.stdout.trim(), "PONG", viaNodePort.stderr);

  // Readiness: pod 0's endpoint goes with it (held, deleted): its load balancer resets connections.
  r.hold("lb-0");
  await r.deletePod("lb-0", "force");
  let seen = "";
  for (let i = 0; i < 20 && seen !== "refused"; i++) seen = await out.connect("lb-0.ext.example.com", 6379, 2000);
  assert.equal(seen, "refused", "no endpoint: the load balancer resets");
  r.release("lb-0");
  await r.waitReady(["lb-0"], 60_000);

  // Scale-out: a third pod and its Service, through another up; reachable by its new name.
  up = await r.up({ ...UP, stackConfig: { "fixture:replicas": 3 }, priorState: up.state });
  assert.ok(up.run.ok, up.run.errors.join("\n"));
  // Its endpoint follows the pod's readiness at the runner's next sync (the up awaits the pods, not the endpoints).
  let info2 = "";
  for (let i = 0; i < 20 && !info2.includes("laddr="); i++) {
    if (i > 0) await sleep(250);
    info2 = await cli("lb-2.ext.example.com", "CLIENT", "INFO");
  }
  assert.match(info2, new RegExp(`laddr=${ip("lb-2").replace(/\./g, "\\.")}:6379`));
  const lb2 = ingress("lb-2-external");
  // Scale-in: the pod and its Service go; the name stops resolving, the address is routed nowhere.
  up = await r.up({ ...UP, stackConfig: { "fixture:replicas": 2 }, priorState: up.state });
  assert.ok(up.run.ok, up.run.errors.join("\n"));
  assert.equal(r.pods.has("lb-2"), false, "pod lb-2 deleted by the scale-in");
  assert.equal(await getent("lb-2.ext.example.com"), "");
  assert.equal(r.objects.has("Service/fixture/lb-2-external"), false);
  assert.equal(await out.connect(lb2, 6379), "timeout", "a released address forwards nothing");

  const netns = out.netns;
  assert.deepEqual(await fx.finish(), [], "the runner leaves no daemon, mount, directory, bridge, cgroup or outside client");
  assert.ok(!spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout.includes(netns));
  console.log(`load balancer test: ${Date.now() - fx.t0} ms`);
});
