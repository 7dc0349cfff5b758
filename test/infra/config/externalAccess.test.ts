// kubernetes.externalAccess settings: the DNS-name and CIDR checks, the defaults, and the cross-field refusals.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, validateConfig } from "../../../infra/config/schema";
import { domainProblem, MAX_DOMAIN_LENGTH } from "../../../infra/config/externalAccess";

const k8s = (externalAccess: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  validateConfig({ platform: "kubernetes", ...extra, kubernetes: { ...(extra.kubernetes as object), externalAccess } }, { name: "redis-cluster-prod" });
const problems = (externalAccess: Record<string, unknown>, extra: Record<string, unknown> = {}): string[] => {
  try {
    k8s(externalAccess, extra);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  assert.fail(`accepted ${JSON.stringify(externalAccess)}`);
};
const fine = { enabled: true, domain: "redis.example.com", sourceRanges: ["203.0.113.0/24"] };

test("off by default, with the documented defaults", () => {
  const e = validateConfig({ platform: "kubernetes" }).kubernetes.externalAccess;
  assert.deepEqual(e, { enabled: false, serviceType: "LoadBalancer", annotations: {}, externalDns: true, sourceRanges: [], podRanges: [], allowAnySource: false, allowPlaintext: false });
  // Off, nothing else is asked for (no domain, no ranges), and the endpoint type keeps its default (ip).
  assert.equal(validateConfig({ platform: "kubernetes" }).kubernetes.preferredEndpointType, undefined);
  assert.equal(k8s(fine).kubernetes.externalAccess.domain, "redis.example.com");
});

test("domain: a lowercase DNS name of two labels or more, outside the cluster's own DNS, short enough for <pod>.<domain>", () => {
  for (const ok of ["redis.example.com", "r-1.prod.example.co.uk", "xn--bcher-kva.example"]) assert.equal(domainProblem(ok), undefined, ok);
  const cases: [string, RegExp][] = [
    ["Redis.Example.com", /lowercase .*; set redis\.example\.com/],
    ["redis.example.com.", /without a trailing dot; set redis\.example\.com$/],
    ["localhost", /at least two labels/],
    ["redis..example.com", /the label ""/],
    ["-redis.example.com", /the label "-redis"/],
    ["redis_prod.example.com", /the label "redis_prod"/],
    ["*.example.com", /the label "\*"/],
    [`${"a".repeat(64)}.example.com`, /the label "a{64}"/],
    ["redis.svc.cluster.local", /inside the Kubernetes cluster's own DNS/],
    ["redis.svc", /inside the Kubernetes cluster's own DNS/],
    [`${"a.".repeat(95)}com`, new RegExp(`at most ${MAX_DOMAIN_LENGTH}`)],
  ];
  for (const [bad, why] of cases) assert.match(domainProblem(bad) ?? "accepted", why, bad);
});

test("cross-field refusals name the setting and the fix", () => {
  const has = (ps: string[], re: RegExp) => assert.ok(ps.some((p) => re.test(p)), `${re} not in:\n${ps.join("\n")}`);
  has(problems({ enabled: true, sourceRanges: ["203.0.113.0/24"] }), /^redis-cluster:kubernetes\.externalAccess\.domain is required when externalAccess\.enabled is true/);
  has(problems({ ...fine, serviceType: "NodePort" }), /^redis-cluster:kubernetes\.externalAccess\.serviceType is NodePort, which cannot work: a NodePort listens on a port from 30000-32767 while each node announces 6379/);
  has(problems({ ...fine, serviceType: "ClusterIP" }), /serviceType must be one of "LoadBalancer", "NodePort"/);
  has(problems(fine, { tls: { enabled: false } }), /externalAccess\.allowPlaintext is false but tls\.enabled is false/);
  assert.equal(k8s({ ...fine, allowPlaintext: true }, { tls: { enabled: false } }).tls.enabled, false, "allowPlaintext accepts it");
  has(problems(fine, { kubernetes: { preferredEndpointType: "ip" } }), /^redis-cluster:kubernetes\.preferredEndpointType is ip, but with externalAccess/);
  assert.equal(k8s(fine, { kubernetes: { preferredEndpointType: "hostname" } }).kubernetes.preferredEndpointType, "hostname");
  has(problems({ ...fine, addresses: ["198.51.100.1", "198.51.100.2"] }), /addresses has 2 addresses for 6 pods/);
  has(problems({ ...fine, addresses: ["198.51.100.1"] }, { masters: 3, replicasPerMaster: 0 }), /addresses has 1 address for 3 pods/);
  has(problems({ ...fine, addresses: ["198.51.100.1", "198.51.100.1", "198.51.100.3"] }, { replicasPerMaster: 0 }), /lists 198\.51\.100\.1 twice/);
  has(problems({ ...fine, addresses: ["lb-1", "198.51.100.2", "198.51.100.3"] }, { replicasPerMaster: 0 }), /addresses\.0 must be an IPv4 or IPv6 address/);
  assert.deepEqual(k8s({ ...fine, addresses: ["198.51.100.1", "198.51.100.2", "2001:db8::3"] }, { replicasPerMaster: 0, smoke: { failover: "none" } }).kubernetes.externalAccess.addresses, ["198.51.100.1", "198.51.100.2", "2001:db8::3"]);
  has(problems({ enabled: true, domain: "redis.example.com" }), /sourceRanges is empty: .*or set externalAccess\.allowAnySource: true/);
  assert.equal(k8s({ enabled: true, domain: "redis.example.com", allowAnySource: true }).kubernetes.externalAccess.allowAnySource, true);
  has(problems({ ...fine, allowAnySource: true }), /allowAnySource is true but sourceRanges lists networks/);
  // podRanges are excepted from the source ranges' ipBlocks (a policy cannot except a whole block): none may cover one.
  assert.deepEqual(k8s({ enabled: true, domain: "redis.example.com", allowAnySource: true, podRanges: ["10.244.0.0/16"] }).kubernetes.externalAccess.podRanges, ["10.244.0.0/16"]);
  assert.ok(k8s({ ...fine, sourceRanges: ["10.0.0.0/8"], podRanges: ["10.244.0.0/16"] }), "a pod range inside a source range is excepted");
  has(problems({ ...fine, sourceRanges: ["203.0.113.0/24", "10.244.1.0/24"], podRanges: ["10.244.0.0/16"] }),
    /^redis-cluster:kubernetes\.externalAccess\.sourceRanges lists 10\.244\.1\.0\/24, which lies within podRanges' 10\.244\.0\.0\/16: .*admit every pod there .*; remove 10\.244\.1\.0\/24 from sourceRanges/);
  has(problems({ ...fine, sourceRanges: ["10.244.0.0/16"], podRanges: ["10.244.0.0/16"] }), /sourceRanges lists 10\.244\.0\.0\/16, which lies within podRanges' 10\.244\.0\.0\/16/);
  has(problems({ enabled: true, domain: "redis.example.com", allowAnySource: true, podRanges: ["0.0.0.0/0"] }), /podRanges lists 0\.0\.0\.0\/0, which covers allowAnySource's 0\.0\.0\.0\/0/);
  has(problems({ ...fine, podRanges: ["10.244.0.1/16"] }), /podRanges\.0 has host bits set; write the network 10\.244\.0\.0\/16/);
  has(problems({ ...fine, annotations: { "external-dns.kubernetes.io/hostname": "x.example.com" } }), /annotations sets external-dns\.kubernetes\.io\/hostname, which externalDns sets per Service/);
  assert.ok(k8s({ ...fine, externalDns: false, annotations: { "external-dns.kubernetes.io/hostname": "x.example.com" } }), "managing DNS oneself");
  has(problems({ ...fine, annotations: { "not a key": "x" } }), /externalAccess\.annotations has the key "not a key", which is no Kubernetes annotation key/);
  has(problems({ ...fine, sourceRange: [] }), /externalAccess\.sourceRange is not a known setting — did you mean kubernetes\.externalAccess\.sourceRanges\?/);
  assert.throws(() => validateConfig({ platform: "docker", kubernetes: { externalAccess: fine } }), /externalAccess\.enabled is true but platform is docker/);
});
