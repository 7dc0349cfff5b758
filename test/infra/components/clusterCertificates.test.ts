// The TLS certificate components under Pulumi mocks (fast wiring checks). RedisDockerCluster with tls.enabled (dev's
// default is TLS off, which the Docker tests apply for real): a CA and one certificate per node from @pulumi/tls,
// uploaded as files (keys private to the container user), the TLS environment of the contract, a TLS healthcheck, and
// exporters over rediss://. KubernetesTlsSecrets with kubernetes.certManagerIssuer: cert-manager Certificates only.
// (The prod graph with @pulumi/tls, keys only in secrets, runs through the engine: test/infra/index.prod.test.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import { installMocks, isSecretInput, unwrapSecret, valueOf } from "../../helpers/pulumiMocks";

const mocks = installMocks({ config: {} });

test("docker with TLS: per-node certificates uploaded with private keys, TLS env and healthcheck, exporters over rediss://", async () => {
  const { validateConfig } = await import("../../../infra/config/schema");
  const { planCluster } = await import("../../../infra/plan/plan");
  const { RedisDockerCluster } = await import("../../../infra/components/dockerCluster");
  const { TLS_FILES, TLS_CLIENT_FILES } = await import("../../../infra/plan/tls");
  const spec = validateConfig({ platform: "docker", tls: { enabled: true } }, { name: "redis-cluster-dev" });
  const plan = planCluster(spec);
  const cluster = await mocks.run(async () => new RedisDockerCluster("dev", { spec, plan, password: "dev-Password-0123456789" }));
  await valueOf(cluster.seeds);
  for (let i = 0, n = -1; i < 50 && n !== mocks.resources.length; i++) {
    n = mocks.resources.length;
    await new Promise((r) => setTimeout(r, 20));
  }
  const rs = mocks.resources;
  const of = (type: string) => rs.filter((r) => r.type === type);
  assert.equal(of("tls:index/privateKey:PrivateKey").length, plan.nodes.length + 2, "CA key, one per node, client");
  assert.equal(of("tls:index/locallySignedCert:LocallySignedCert").length, plan.nodes.length + 1);
  const csr = (id: string) => rs.find((r) => r.name === `dev-tls-${id}-csr`)!.inputs;
  assert.deepEqual(csr("node-0").ipAddresses, [plan.nodes[0].host, "127.0.0.1"]);
  assert.ok(csr("node-0").dnsNames.includes(plan.nodes[0].name));

  const containers = of("docker:index/container:Container");
  // A secret element makes Pulumi serialise the whole list as a secret.
  const list = (v: unknown) => ((isSecretInput(v) ? unwrapSecret<unknown[]>(v) : v) as unknown[]).map(unwrapSecret);
  const envsOf = (c: (typeof containers)[number]) => list(c.inputs.envs) as string[];
  type Upload = { file: string; owner?: string; permissions?: string; content: unknown };
  const uploadsOf = (c: (typeof containers)[number]) => list(c.inputs.uploads) as Upload[];
  // Each node's certificate, key and CA reach it through its secrets volume (read-only), copied by the node-secrets
  // step as the redis user's private files: none is a node input, so a renewal does not re-create the nodes.
  const copy = containers.find((x) => x.name === "dev-node-secrets")!;
  assert.ok(copy, "the node-secrets step");
  const staged = uploadsOf(copy);
  assert.match(copy.inputs.entrypoints[2], /install -o 999 -g 999 -m 0400 /);
  const SECRETS = "/etc/redis-cluster-secrets";
  for (const n of plan.nodes) {
    const c = containers.find((x) => x.name === `dev-node-${n.index}`)!;
    assert.deepEqual(uploadsOf(c).filter((u) => /tls|\.crt|\.key/.test(u.file)), [], "no certificate or key among the node's uploads");
    assert.ok(list(c.inputs.volumes).some((v: any) => v.volumeName === `${n.name}-secrets` && v.containerPath === SECRETS && v.readOnly === true));
    for (const f of ["tls.crt", "tls.key", "ca.crt"]) assert.ok(staged.some((u) => u.file === `/etc/redis-cluster-node-secrets/${n.name}/${f}`), `${n.name}/${f} staged`);
    const key = staged.find((u) => u.file === `/etc/redis-cluster-node-secrets/${n.name}/tls.key`)!;
    assert.ok(isSecretInput(copy.inputs.uploads) || isSecretInput(key.content), "the key is uploaded as a secret");
    const envs = envsOf(c);
    assert.ok(envs.includes(`REDIS_TLS_CA_FILE=${SECRETS}/ca.crt`) && envs.includes(`REDIS_TLS_KEY_FILE=${SECRETS}/tls.key`), JSON.stringify(envs));
    assert.match(c.inputs.healthcheck.tests[1], /redis-cli --tls --cacert \/etc\/redis-cluster-secrets\/ca\.crt --cert \S+ --key \S+ -p 6379 ping/);
  }
  assert.equal(TLS_FILES.cert.split("/").pop(), "tls.crt", "same file names as the Kubernetes TLS Secret");
  // The reload step: every node re-reads its files; it runs again when any node certificate changes.
  const reload = containers.find((x) => x.name === "dev-tls-reload")!;
  assert.deepEqual(reload.inputs.entrypoints, ["sh", "/etc/redis-cluster/tls-reload.sh"]);
  assert.ok(envsOf(reload).some((e) => /^NODE_CERTIFICATES_SHA256=[0-9a-f]{64}$/.test(e)), JSON.stringify(envsOf(reload)));
  assert.ok(mocks.options.find((o) => o.name === "dev-bootstrap")!.dependsOn.includes("dev-tls-reload-check"), "the bootstrap verifies after the reload");
  const bootstrap = containers.find((x) => x.name === "dev-bootstrap")!;
  assert.ok(envsOf(bootstrap).includes(`REDIS_TLS_CERT_FILE=${TLS_CLIENT_FILES.cert}`));
  assert.ok(uploadsOf(bootstrap).some((u) => u.file === TLS_CLIENT_FILES.key));
  const exporters = containers.filter((x) => x.name.includes("-exporter-"));
  assert.equal(exporters.length, plan.nodes.length);
  for (const e of exporters) {
    const envs = envsOf(e);
    assert.ok(envs.some((v) => /^REDIS_ADDR=rediss:\/\/172\.28\.0\.\d+:6379$/.test(v)), JSON.stringify(envs));
    assert.ok(envs.includes(`REDIS_EXPORTER_TLS_CLIENT_KEY_FILE=${TLS_CLIENT_FILES.key}`));
    const key = uploadsOf(e).find((u) => u.file === TLS_CLIENT_FILES.key)!;
    assert.deepEqual([key.owner, key.permissions], ["59000", "0400"]);
  }
  assert.ok(cluster.tlsClient, "the client certificate is handed to the smoke step and the outputs");
});

test("kubernetes with certManagerIssuer: cert-manager Certificates write the Secrets the pods mount; no @pulumi/tls key", async () => {
  const { validateConfig } = await import("../../../infra/config/schema");
  const { planCluster } = await import("../../../infra/plan/plan");
  const { planCertificates } = await import("../../../infra/plan/tlsCertificates");
  const { KubernetesTlsSecrets } = await import("../../../infra/components/clusterCertificates");
  const spec = validateConfig({ platform: "kubernetes", enableDebugCommand: "no", kubernetes: { certManagerIssuer: "ClusterIssuer/internal-ca" } }, { name: "redis-cluster-prod" });
  const before = mocks.resources.length;
  const secrets = await mocks.run(async () =>
    new KubernetesTlsSecrets("prod-tls", { spec, requests: planCertificates(spec, planCluster(spec), "kubernetes"), namespace: "redis", labels: {} }),
  );
  assert.equal(await valueOf(secrets.secretNames.nodes), "redis-cluster-prod-tls-nodes");
  assert.equal(await valueOf(secrets.secretNames.client), "redis-cluster-prod-tls-client");
  await valueOf(secrets.urn);
  for (let i = 0, n = -1; i < 50 && n !== mocks.resources.length; i++) {
    n = mocks.resources.length;
    await new Promise((r) => setTimeout(r, 20));
  }
  const rs = mocks.resources.slice(before);
  assert.ok(rs.length >= 2, `recorded: ${rs.map((r) => r.type).join(", ")}`);
  assert.ok(!rs.some((r) => r.type.startsWith("tls:") || r.type === "kubernetes:core/v1:Secret"), "cert-manager writes the Secrets; no key in Pulumi state");
  const certs = rs.filter((r) => r.type === "kubernetes:cert-manager.io/v1:Certificate");
  assert.deepEqual(certs.map((c) => c.inputs.spec.secretName).sort(), ["redis-cluster-prod-tls-client", "redis-cluster-prod-tls-nodes"]);
  for (const c of certs) {
    assert.deepEqual(c.inputs.spec.issuerRef, { name: "internal-ca", kind: "ClusterIssuer", group: "cert-manager.io" });
    assert.equal(c.inputs.spec.privateKey.rotationPolicy, "Always");
  }
  const nodes = certs.find((c) => c.inputs.spec.secretName.endsWith("-nodes"))!.inputs.spec;
  assert.ok(nodes.dnsNames.includes("*.redis-cluster-prod-headless.redis.svc.cluster.local"));
  assert.deepEqual(nodes.usages, ["digital signature", "key encipherment", "server auth", "client auth"]);
});
