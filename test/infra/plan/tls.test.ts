// The pure TLS plan: config defaults per platform, redis.conf directives, certificate names per platform.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, validateConfig } from "../../../infra/config/schema";
import { planCluster } from "../../../infra/plan/plan";
import { renderRedisConf } from "../../../infra/plan/redisConf";
import { TLS_FILES, exporterAddress, exporterTlsEnv, tlsEnv } from "../../../infra/plan/tls";
import { nodeSans, planCertificates, sansCover } from "../../../infra/plan/tlsCertificates";
import { certManagerIssuerRef, earlyRenewalHours } from "../../../infra/components/clusterCertificates";

const docker = (extra: Record<string, unknown> = {}) => validateConfig({ platform: "docker", ...extra }, { name: "redis-cluster-dev" });
const k8s = (extra: Record<string, unknown> = {}) => validateConfig({ platform: "kubernetes", enableDebugCommand: "no", ...extra }, { name: "redis-cluster-prod" });

test("tls.enabled defaults: on for kubernetes, off for docker (dev); authClients defaults to optional", () => {
  assert.equal(k8s().tls.enabled, true);
  assert.equal(docker().tls.enabled, false);
  assert.equal(docker({ tls: { enabled: true } }).tls.enabled, true);
  assert.equal(k8s({ tls: { enabled: false } }).tls.enabled, false);
  assert.equal(k8s().tls.authClients, "optional");
  assert.equal(k8s().tls.certValidityDays, 365);
});

test("bad TLS settings are refused naming the key and the fix", () => {
  assert.throws(() => k8s({ tls: { authClients: "maybe" } }), (e: ConfigError) => e.problems.some((p) => p.startsWith('redis-cluster:tls.authClients must be one of "yes", "no", "optional"')));
  assert.throws(() => k8s({ tls: { enabled: false }, kubernetes: { certManagerIssuer: "ca" } }),
    (e: ConfigError) => e.problems.some((p) => p.includes("redis-cluster:kubernetes.certManagerIssuer is set but tls.enabled is false") && p.includes("set tls.enabled: true")));
  assert.throws(() => k8s({ kubernetes: { certManagerIssuer: "Bad Issuer" } }), /redis-cluster:kubernetes\.certManagerIssuer must be an issuer name/);
  assert.throws(() => k8s({ tls: { enabeld: true } }), /redis-cluster:tls\.enabeld is not a known setting — did you mean tls\.enabled\?/);
});

test("redis.conf: TLS on every channel and no plaintext port when enabled; unchanged when not", () => {
  const on = renderRedisConf(k8s({ tls: { authClients: "yes" } })).split("\n");
  for (const l of ["port 0", "tls-port 6379", "tls-cluster yes", "tls-replication yes", "tls-auth-clients yes",
    `tls-cert-file ${TLS_FILES.cert}`, `tls-key-file ${TLS_FILES.key}`, `tls-ca-cert-file ${TLS_FILES.ca}`]) {
    assert.ok(on.includes(l), l);
  }
  assert.ok(!on.includes("port 6379"));
  const off = renderRedisConf(docker()).split("\n");
  assert.ok(off.includes("port 6379"));
  assert.ok(!off.some((l) => l.startsWith("tls-")));
});

test("client environment of the contract, and the exporter's rediss:// with its TLS variables", () => {
  assert.deepEqual(tlsEnv(TLS_FILES), { REDIS_TLS_CA_FILE: TLS_FILES.ca, REDIS_TLS_CERT_FILE: TLS_FILES.cert, REDIS_TLS_KEY_FILE: TLS_FILES.key });
  assert.equal(exporterAddress(true, "127.0.0.1", 6379), "rediss://127.0.0.1:6379");
  assert.equal(exporterAddress(false, "10.0.0.1", 6379), "redis://10.0.0.1:6379");
  assert.equal(exporterTlsEnv(TLS_FILES).REDIS_EXPORTER_TLS_CLIENT_KEY_FILE, TLS_FILES.key);
});

test("docker: one certificate per node naming its container address, its name and the natMap host address", () => {
  const spec = docker({ tls: { enabled: true }, docker: { announceHost: "127.0.0.2" } });
  const plan = planCluster(spec);
  const certs = planCertificates(spec, plan, "docker");
  assert.equal(certs.length, plan.nodes.length + 1);
  for (const n of plan.nodes) {
    const c = certs.find((x) => x.id === `node-${n.index}`)!;
    assert.deepEqual(c.nodes, [n.index]);
    for (const name of [n.host, n.name, "127.0.0.2", "127.0.0.1", "localhost"]) assert.ok(sansCover(c.sans, name), `${n.name}: ${name}`);
    // Not another node's address: a node's key is its own.
    assert.ok(!sansCover(c.sans, plan.nodes[(n.index + 1) % plan.nodes.length].host));
    assert.deepEqual(c.usages, ["server_auth", "client_auth"]);
  }
  const client = certs.find((x) => x.id === "client")!;
  assert.deepEqual(client.usages, ["client_auth"]);
  assert.deepEqual(client.sans, { dnsNames: [], ipAddresses: [] });
});

test("kubernetes: one shared node certificate whose wildcard names cover every pod's names, for any scale", () => {
  for (const masters of [3, 5]) {
    const spec = k8s({ masters, kubernetes: { namespace: "cache" } });
    const plan = planCluster(spec);
    const [nodes, client] = planCertificates(spec, plan, "kubernetes");
    assert.equal(nodes.id, "nodes");
    assert.equal(client.id, "client");
    assert.deepEqual(nodes.nodes, plan.nodes.map((n) => n.index));
    for (const n of plan.nodes) {
      const own = nodeSans(spec, n, "kubernetes");
      assert.ok(own.dnsNames.includes(n.host), "the announced name is among the pod's names");
      for (const name of [...own.dnsNames, ...own.ipAddresses]) assert.ok(sansCover(nodes.sans, name), `${n.name}: ${name}`);
    }
    for (const name of ["redis-cluster-prod", "redis-cluster-prod.cache.svc.cluster.local"]) assert.ok(sansCover(nodes.sans, name), name);
    // A wildcard covers one label only.
    assert.ok(!sansCover(nodes.sans, "a.b.redis-cluster-prod-headless.cache.svc.cluster.local"));
    assert.ok(!sansCover(nodes.sans, "10.1.2.3"), "pod IPs are in no certificate");
    // The SAN list does not grow with the cluster: scaling never re-issues the certificate.
    assert.equal(nodes.sans.dnsNames.length, 9);
  }
});

test("local: the harness' node certificates name 127.0.0.1 (and the node's own loopback address)", () => {
  const spec = validateConfig({ tls: { enabled: true } }, { name: "local" });
  const plan = planCluster(spec, { kind: "local", ports: [7001, 7002, 7003, 7004, 7005, 7006], hosts: ["127.0.0.5", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.1"] });
  assert.deepEqual(nodeSans(spec, plan.nodes[0], "local").ipAddresses, ["127.0.0.5", "127.0.0.1"]);
});

test("cert-manager issuer reference and the renewal window", () => {
  assert.deepEqual(certManagerIssuerRef("internal-ca"), { name: "internal-ca", kind: "Issuer", group: "cert-manager.io" });
  assert.deepEqual(certManagerIssuerRef("ClusterIssuer/org-ca"), { name: "org-ca", kind: "ClusterIssuer", group: "cert-manager.io" });
  assert.equal(earlyRenewalHours(365), 2920);
  assert.equal(earlyRenewalHours(3), 24);
});
