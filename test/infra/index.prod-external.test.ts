// kubernetes.externalAccess through the test engine, as `pulumi up -s prod` runs it: one LoadBalancer Service per pod
// for the client port, nodes announcing <pod>.<domain> (the bus keeping the pod IP), the names in the node
// certificate (@pulumi/tls and cert-manager), the NetworkPolicy opened to the source ranges only, the externalSeeds
// output, and the Services following the pods when the cluster scales.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { runProgram, type RunResult } from "../../testbed/engine/engine";
import { isSecret } from "../../testbed/engine/values";
import { readStackFile } from "../helpers/stackConfig";
import { sansCover } from "../../infra/plan/tlsCertificates";

const DOMAIN = "redis.example.com";
const RANGES = ["203.0.113.0/24", "2001:db8::/32"];
const POD_RANGE = "10.244.0.0/16";
const ADDRESSES = [...Array(8).keys()].map((i) => `198.51.100.${10 + i}`);
const LB_ANNOTATION = "service.beta.kubernetes.io/aws-load-balancer-type";
const pods = (n: number) => [...Array(n).keys()].map((i) => `redis-cluster-prod-${i}`);

// Pulumi.prod.yaml as committed, with its explicit preferredEndpointType ip left out (external access implies hostname).
const { preferredEndpointType: _ip, ...k8sConfig } = readStackFile("prod")["redis-cluster:kubernetes"] as Record<string, unknown>;
const external = (e: Record<string, unknown>, k: Record<string, unknown> = {}) => ({
  password: { secret: "prodPassword-0123456789abc" },
  "redis-cluster:kubernetes": { ...k8sConfig, context: "prod-admin@redis-prod", ...k, externalAccess: { enabled: true, domain: DOMAIN, ...e } },
});
const on = external({ sourceRanges: RANGES, podRanges: [POD_RANGE], addresses: ADDRESSES.slice(0, 6), annotations: { [LB_ANNOTATION]: "nlb" } });

let up: RunResult;
let certManager: RunResult;
let anySource: RunResult;
let off: RunResult;
let scaleOut: RunResult;
let scaleIn: RunResult;

const of = (r: RunResult, type: string) => r.resources.filter((x) => x.type === type);
const externalServices = (r: RunResult) => of(r, "kubernetes:core/v1:Service").filter((s) => /-external-\d+$/.test(s.name));
const netpolFrom = (r: RunResult) => of(r, "kubernetes:networking.k8s.io/v1:NetworkPolicy")[0].inputs.spec.ingress as { from: any[]; ports: { port: number }[] }[];
const redisEnv = (r: RunResult) => {
  const c = of(r, "kubernetes:apps/v1:StatefulSet")[0].inputs.spec.template.spec.containers.find((x: any) => x.name === "redis");
  return Object.fromEntries(c.env.map((e: any) => [e.name, e.value]));
};

before(async () => {
  [up, certManager, anySource, off] = await Promise.all([
    runProgram({ stack: "prod", mode: "up", config: on }),
    runProgram({ stack: "prod", mode: "preview", config: external({ sourceRanges: RANGES }, { certManagerIssuer: "ClusterIssuer/public" }) }),
    runProgram({ stack: "prod", mode: "preview", config: external({ allowAnySource: true, podRanges: [POD_RANGE] }) }),
    runProgram({ stack: "prod", mode: "preview" }),
  ]);
  assert.equal(up.exitCode, 0, up.errors.join("\n"));
  const sized = (masters: number, replicasPerMaster: number) => ({
    ...external({ sourceRanges: RANGES, addresses: ADDRESSES.slice(0, masters * (1 + replicasPerMaster)), annotations: { [LB_ANNOTATION]: "nlb" } }),
    masters, replicasPerMaster, "redis-cluster:smoke": { enabled: true, failover: replicasPerMaster ? "manual" : "none" },
  });
  [scaleOut, scaleIn] = await Promise.all([
    runProgram({ stack: "prod", mode: "preview", config: sized(4, 1), priorState: up.state }),
    runProgram({ stack: "prod", mode: "preview", config: sized(3, 0), priorState: up.state }),
  ]);
});

test("one LoadBalancer Service per pod for the client port only: its pod, its fixed address, the source ranges, the annotations", () => {
  const services = externalServices(up);
  assert.deepEqual(services.map((s) => s.inputs.metadata.name), pods(6).map((p) => `${p}-external`));
  services.forEach((s, i) => {
    const spec = s.inputs.spec;
    assert.equal(spec.type, "LoadBalancer");
    assert.deepEqual(spec.selector, { "statefulset.kubernetes.io/pod-name": pods(6)[i] });
    assert.equal(spec.loadBalancerIP, ADDRESSES[i]);
    // The pod network too: in-cluster clients are sent the external names, and the source filter applies to them.
    assert.deepEqual(spec.loadBalancerSourceRanges, [...RANGES, POD_RANGE]);
    assert.deepEqual(spec.ports, [{ name: "redis", port: 6379, targetPort: "redis", protocol: "TCP" }], "the cluster bus stays internal");
    assert.equal(spec.publishNotReadyAddresses, true);
    assert.equal(spec.externalTrafficPolicy, "Local");
    assert.equal(s.inputs.metadata.annotations[LB_ANNOTATION], "nlb");
    // external-dns (both annotation prefixes: 0.22 changed the default) points the name at the load balancer.
    assert.equal(s.inputs.metadata.annotations["external-dns.kubernetes.io/hostname"], `${pods(6)[i]}.${DOMAIN}`);
    assert.equal(s.inputs.metadata.annotations["external-dns.alpha.kubernetes.io/hostname"], `${pods(6)[i]}.${DOMAIN}`);
  });
  // `pulumi up` ends with the load balancers provisioned: the smoke test waits for every one of them.
  const smoke = of(up, "kubernetes:batch/v1:Job").find((j) => j.name.endsWith("-smoke-job"))!;
  for (const s of services) assert.ok(smoke.options.dependsOn.includes(s.urn), `smoke Job waits for ${s.name}`);
  // Without external access there is none of it.
  assert.equal(off.exitCode, 0, off.errors.join("\n"));
  assert.deepEqual(externalServices(off), []);
  assert.equal(off.outputs.externalSeeds, undefined);
  assert.equal(redisEnv(off).REDIS_PREFERRED_ENDPOINT_TYPE, "ip");
});

test("nodes announce <pod>.<domain> to clients (hostname endpoints) while the bus keeps the pod IP; peers are found by their pod names", () => {
  const env = redisEnv(up);
  assert.equal(env.REDIS_ANNOUNCE_HOSTNAME, `$(POD_NAME).${DOMAIN}`);
  assert.equal(env.REDIS_PREFERRED_ENDPOINT_TYPE, "hostname");
  assert.equal(env.REDIS_ANNOUNCE_IP, "$(POD_IP)");
  assert.equal(env.REDIS_PEER_DOMAIN, "redis-cluster-prod-headless.redis.svc.cluster.local");
  // The smoke Job follows the announced names, which the certificate names: it verifies them.
  const smoke = of(up, "kubernetes:batch/v1:Job").find((j) => j.name.endsWith("-smoke-job"))!;
  assert.ok(!smoke.inputs.spec.template.spec.containers[0].env.some((e: any) => e.name === "REDIS_TLS_VERIFY_HOSTNAME"), "hostname verification on");
});

test("the node certificate names every external name (@pulumi/tls and cert-manager); scaling re-issues nothing", () => {
  const csr = up.resources.find((r) => r.name === "redis-cluster-prod-tls-certs-nodes-csr")!;
  const sans = { dnsNames: csr.inputs.dnsNames as string[], ipAddresses: csr.inputs.ipAddresses as string[] };
  assert.ok(csr.inputs.dnsNames.includes(`*.${DOMAIN}`), csr.inputs.dnsNames.join(" "));
  for (const p of pods(8)) assert.ok(sansCover(sans, `${p}.${DOMAIN}`), p);
  assert.ok(!sansCover(sans, `a.${pods(1)[0]}.${DOMAIN}`), "a wildcard covers one label");
  assert.equal(certManager.exitCode, 0, certManager.errors.join("\n"));
  const cert = of(certManager, "kubernetes:cert-manager.io/v1:Certificate").find((c) => c.name.endsWith("-nodes"))!;
  assert.ok(cert.inputs.spec.dnsNames.includes(`*.${DOMAIN}`), cert.inputs.spec.dnsNames.join(" "));
  assert.equal(scaleOut.resources.find((r) => r.name === "redis-cluster-prod-tls-certs-nodes-csr")!.op, "same");
});

test("the NetworkPolicy opens the client port, never the bus, to the source ranges only (everyone but the pod network with allowAnySource)", () => {
  const rule = netpolFrom(up).find((r) => r.from.some((f) => f.ipBlock));
  assert.ok(rule, "an ipBlock rule");
  assert.deepEqual(rule.from, RANGES.map((cidr) => ({ ipBlock: { cidr } })));
  assert.deepEqual(rule.ports.map((p) => p.port), [6379]);
  assert.equal(anySource.exitCode, 0, anySource.errors.join("\n"));
  // Pods inside 0.0.0.0/0 are excepted: on plugins that match pod addresses against ipBlocks, only the client label admits them.
  assert.deepEqual(netpolFrom(anySource).find((r) => r.from.some((f) => f.ipBlock))!.from, [{ ipBlock: { cidr: "0.0.0.0/0", except: [POD_RANGE] } }, { ipBlock: { cidr: "::/0" } }]);
  for (const s of externalServices(anySource)) assert.equal(s.inputs.spec.loadBalancerSourceRanges, undefined);
  assert.ok(!netpolFrom(off).some((r) => r.from.some((f) => f.ipBlock)), "no ipBlock without external access");
  // podRanges reach the NetworkPolicy only as except (pods are admitted by the client label); without them the preview warns.
  const podRangesWarned = (r: RunResult) => r.logs.some((l) => l.severity === "warning" && l.message.includes("kubernetes.externalAccess.podRanges is empty"));
  assert.equal(podRangesWarned(up), false);
  assert.equal(podRangesWarned(certManager), true);
  assert.equal(podRangesWarned(anySource), false);
});

test("stack output externalSeeds: <pod>.<domain>:6379 of every node, not secret", () => {
  assert.deepEqual(up.outputs.externalSeeds, pods(6).map((p) => `${p}.${DOMAIN}:6379`));
  assert.ok(!isSecret(up.outputs.externalSeeds));
});

test("scaling adds and removes the per-pod Services with the pods, in the same update", () => {
  assert.equal(scaleOut.exitCode, 0, scaleOut.errors.join("\n"));
  const added = externalServices(scaleOut).filter((s) => s.op === "create").map((s) => s.inputs.metadata.name);
  assert.deepEqual(added, ["redis-cluster-prod-6-external", "redis-cluster-prod-7-external"]);
  assert.deepEqual(scaleOut.outputs.externalSeeds, pods(8).map((p) => `${p}.${DOMAIN}:6379`));
  assert.equal(scaleIn.exitCode, 0, scaleIn.errors.join("\n"));
  assert.deepEqual(externalServices(scaleIn).map((s) => s.inputs.metadata.name), pods(3).map((p) => `${p}-external`));
  assert.deepEqual(scaleIn.deletes.filter((u) => u.includes("-external-")).map((u) => u.replace(/.*::/, "")).sort(),
    ["redis-cluster-prod-external-3", "redis-cluster-prod-external-4", "redis-cluster-prod-external-5"]);
});
