// The pure plan of external access: announced names, seeds, the endpoint type, Service annotations, certificate names.
import { test } from "node:test";
import assert from "node:assert/strict";
import { validateConfig } from "../../../infra/config/schema";
import { planCluster, podNodeEnv } from "../../../infra/plan/plan";
import { externalAccessPlan, podRangesWarning, preferredEndpointType } from "../../../infra/plan/externalAccess";
import { nodeSans, planCertificates, sansCover } from "../../../infra/plan/tlsCertificates";

const DOMAIN = "redis.example.com";
const k8s = (externalAccess: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  validateConfig({ platform: "kubernetes", ...extra, kubernetes: { externalAccess } }, { name: "redis-cluster-prod" });
const on = k8s({ enabled: true, domain: DOMAIN, sourceRanges: ["203.0.113.0/24"], annotations: { "example.com/lb": "internal" } });

test("off: nodes announce their pod DNS names, no external seeds, ip endpoints", () => {
  const spec = k8s({});
  const plan = planCluster(spec);
  assert.equal(externalAccessPlan(spec), undefined);
  assert.equal(plan.externalSeeds, undefined);
  assert.equal(preferredEndpointType(spec), "ip");
  assert.deepEqual(podNodeEnv(spec, { name: plan.nodes[0].name, ip: "10.244.0.7" }), {
    REDIS_PORT: "6379", REDIS_ANNOUNCE_IP: "10.244.0.7", REDIS_ANNOUNCE_HOSTNAME: plan.nodes[0].host, REDIS_PREFERRED_ENDPOINT_TYPE: "ip",
  });
  assert.ok(!planCertificates(spec, plan, "kubernetes")[0].sans.dnsNames.some((d) => d.endsWith(DOMAIN)));
});

test("on: every node announces <pod>.<domain>, the seeds name them, peers keep the pod DNS names", () => {
  const plan = planCluster(on);
  assert.deepEqual(plan.externalSeeds, plan.nodes.map((n) => `${n.name}.${DOMAIN}:6379`));
  for (const n of plan.nodes) {
    const env = podNodeEnv(on, { name: n.name, ip: "10.244.0.7" });
    assert.equal(env.REDIS_ANNOUNCE_HOSTNAME, `${n.name}.${DOMAIN}`);
    // Peers are looked up by their pod DNS names, under the domain of the planned hosts.
    assert.equal(`${n.name}.${env.REDIS_PEER_DOMAIN}`, n.host);
    assert.match(n.host, /\.svc\.cluster\.local$/, "the bus and the bootstrap still use the pod DNS name");
  }
  assert.equal(plan.bootstrapEnv.REDIS_NODES, plan.seeds.join(" "));
  assert.equal(preferredEndpointType(on), "hostname");
  assert.equal(preferredEndpointType(k8s({ enabled: true, domain: DOMAIN, allowAnySource: true }, {})), "hostname");
  // The docker stack never gets external names (refused there anyway).
  assert.equal(planCluster(validateConfig({})).externalSeeds, undefined);
});

test("Service annotations: the configured ones plus the external-dns names; addresses by pod; ranges or everyone", () => {
  const e = externalAccessPlan(on)!;
  assert.deepEqual(e.annotationsOf("redis-cluster-prod-4"), {
    "example.com/lb": "internal",
    "external-dns.kubernetes.io/hostname": `redis-cluster-prod-4.${DOMAIN}`,
    "external-dns.alpha.kubernetes.io/hostname": `redis-cluster-prod-4.${DOMAIN}`,
  });
  assert.deepEqual(externalAccessPlan(k8s({ enabled: true, domain: DOMAIN, allowAnySource: true, externalDns: false }))!.annotationsOf("p"), {});
  assert.deepEqual([e.ipBlocks, e.loadBalancerSourceRanges, e.restricted], [[{ cidr: "203.0.113.0/24" }], ["203.0.113.0/24"], true]);
  assert.match(podRangesWarning(on)!, /podRanges is empty: in-cluster clients/);
  const pods = k8s({ enabled: true, domain: DOMAIN, sourceRanges: ["203.0.113.0/24"], podRanges: ["10.244.0.0/16"] });
  assert.deepEqual([externalAccessPlan(pods)!.ipBlocks, externalAccessPlan(pods)!.loadBalancerSourceRanges], [[{ cidr: "203.0.113.0/24" }], ["203.0.113.0/24", "10.244.0.0/16"]]);
  assert.equal(podRangesWarning(pods), undefined);
  const any = externalAccessPlan(k8s({ enabled: true, domain: DOMAIN, allowAnySource: true }))!;
  assert.deepEqual([any.ipBlocks, any.loadBalancerSourceRanges, any.restricted], [[{ cidr: "0.0.0.0/0" }, { cidr: "::/0" }], [], false]);
  assert.match(podRangesWarning(k8s({ enabled: true, domain: DOMAIN, allowAnySource: true }))!, /podRanges is empty: the NetworkPolicy admits allowAnySource's 0\.0\.0\.0\/0 .*admit every pod/);
  assert.equal(podRangesWarning(k8s({})), undefined);
  // allowAnySource with an IPv4 pod range only: a dual-stack cluster's ::/0 has nothing excepted.
  assert.match(podRangesWarning(k8s({ enabled: true, domain: DOMAIN, allowAnySource: true, podRanges: ["10.244.0.0/16"] }))!, /podRanges has no IPv6 range: on a dual-stack cluster .* ::\/0 with no pod range excepted/);
  assert.equal(podRangesWarning(k8s({ enabled: true, domain: DOMAIN, allowAnySource: true, podRanges: ["10.244.0.0/16", "fd00:10:244::/56"] })), undefined);
  assert.equal(e.addressOf(0), undefined);
  const fixed = externalAccessPlan(k8s({ enabled: true, domain: DOMAIN, allowAnySource: true, addresses: ["198.51.100.1", "198.51.100.2", "198.51.100.3"] }, { replicasPerMaster: 0, smoke: { failover: "none" } }))!;
  assert.deepEqual([0, 1, 2].map(fixed.addressOf), ["198.51.100.1", "198.51.100.2", "198.51.100.3"]);
});

test("the NetworkPolicy's ipBlocks except the pod ranges inside each source range (pods are admitted by the client label only)", () => {
  const blocks = (e: Record<string, unknown>) => externalAccessPlan(k8s({ enabled: true, domain: DOMAIN, ...e }))!.ipBlocks;
  const podRanges = ["10.244.0.0/16", "fd00:10::/64"];
  assert.deepEqual(blocks({ allowAnySource: true, podRanges }), [
    { cidr: "0.0.0.0/0", except: ["10.244.0.0/16"] },
    { cidr: "::/0", except: ["fd00:10::/64"] },
  ]);
  assert.deepEqual(blocks({ sourceRanges: ["10.0.0.0/8", "203.0.113.0/24"], podRanges: [...podRanges, "10.96.0.0/12"] }), [
    { cidr: "10.0.0.0/8", except: ["10.244.0.0/16", "10.96.0.0/12"] },
    { cidr: "203.0.113.0/24" },
  ]);
});

test("certificates: the shared node certificate covers every external name at any scale; a node's own SANs list its name first", () => {
  for (const masters of [3, 10]) {
    const spec = k8s({ enabled: true, domain: DOMAIN, sourceRanges: ["203.0.113.0/24"] }, { masters });
    const plan = planCluster(spec);
    const nodes = planCertificates(spec, plan, "kubernetes").find((c) => c.id === "nodes")!;
    for (const seed of plan.externalSeeds!) assert.ok(sansCover(nodes.sans, seed.replace(/:6379$/, "")), seed);
    assert.ok(!sansCover(nodes.sans, `x.redis-cluster-prod-0.${DOMAIN}`));
    assert.ok(!sansCover(nodes.sans, "redis-cluster-prod-0.example.com"));
  }
  const plan = planCluster(on);
  assert.equal(nodeSans(on, plan.nodes[2], "kubernetes").dnsNames[0], `redis-cluster-prod-2.${DOMAIN}`);
});
