// DockerMonitoring under Pulumi mocks: one exporter per node, one Prometheus with rendered config + rules as uploads,
// and the password only inside a secret.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { installMocks, isSecretInput, plainStrings, unwrapSecret, valueOf } from "../../helpers/pulumiMocks";

const mocks = installMocks({ config: {} });
const PASSWORD = "s3cret-Passw0rd-for-mocks";

/** Waits until the component's outputs resolve and the mock monitor has recorded every child. */
async function settled(c: { urn: unknown; prometheusUrl: unknown }) {
  await valueOf(c.urn as never);
  await valueOf(c.prometheusUrl as never);
  for (let i = 0, n = -1; i < 50 && n !== mocks.resources.length; i++) {
    n = mocks.resources.length;
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("exporters for every node, Prometheus with uploads, password only as a secret env var", async () => {
  const { DockerMonitoring, EXPORTER_IMAGE, PROMETHEUS_IMAGE } = await import("../../../infra/components/dockerMonitoring");
  const pulumi = await import("@pulumi/pulumi");
  const nodes = Array.from({ length: 6 }, (_, i) => ({ name: `redis-${i}`, host: `172.28.0.${10 + i}`, port: 6379 }));
  const mon = await mocks.run(async () =>
    new DockerMonitoring("mon", {
      networkName: "redis-net-dev",
      nodes,
      job: "redis-cluster-dev",
      masters: 3,
      replicasPerMaster: 1,
      password: pulumi.secret(PASSWORD),
      prometheusHostPort: 19090,
    }),
  );
  await settled(mon);
  const rs = mocks.resources;
  const containers = rs.filter((r) => r.type === "docker:index/container:Container");
  const exporters = containers.filter((c) => c.name.startsWith("mon-exporter-"));
  const prom = containers.find((c) => c.name === "mon-prometheus");
  assert.equal(exporters.length, 6);
  assert.ok(prom);
  assert.ok(rs.some((r) => r.type === "redis-cluster:monitoring:DockerMonitoring" && r.name === "mon"));
  const images = rs.filter((r) => r.type === "docker:index/remoteImage:RemoteImage").map((r) => r.inputs.name);
  assert.deepEqual(images.sort(), [EXPORTER_IMAGE, PROMETHEUS_IMAGE].sort());
  for (const img of images) assert.match(img, /:v\d+\.\d+\.\d+$/, "pinned tag");

  for (const [i, e] of exporters.entries()) {
    assert.deepEqual(e.inputs.networksAdvanced[0].name, "redis-net-dev");
    // A secret element makes Pulumi serialise the whole list as a secret.
    assert.ok(isSecretInput(e.inputs.envs), "envs carrying the password are secret");
    const envs = unwrapSecret<unknown[]>(e.inputs.envs).map(unwrapSecret);
    assert.ok(envs.includes(`REDIS_ADDR=redis://${nodes[i].host}:6379`), JSON.stringify(envs));
    assert.ok(envs.includes(`REDIS_PASSWORD=${PASSWORD}`));
    assert.equal(e.inputs.command, undefined, "no argv override");
  }

  // Prometheus: config and rules as upload content; 9090 published on loopback.
  const uploads = prom!.inputs.uploads as { file: string; content: string }[];
  const cfg = parse(uploads.find((u) => u.file === "/etc/prometheus/prometheus.yml")!.content);
  const rules = parse(uploads.find((u) => u.file.startsWith("/etc/prometheus/rules/"))!.content);
  assert.deepEqual(cfg.rule_files, ["/etc/prometheus/rules/redis-cluster.rules.yml"]);
  assert.equal(cfg.scrape_configs[0].static_configs.length, 6);
  assert.deepEqual(cfg.scrape_configs[0].static_configs[0], { targets: ["mon-exporter-redis-0:9121"], labels: { instance: "172.28.0.10:6379" } });
  assert.ok(rules.groups[0].rules.some((r: { alert: string }) => r.alert === "RedisClusterMastersMissing"));
  // One job per cluster, the same in the scrape config and in every rule (and on every alert).
  assert.equal(cfg.scrape_configs[0].job_name, "redis-cluster-dev");
  for (const r of rules.groups[0].rules as { alert: string; expr: string; labels: Record<string, string> }[]) {
    assert.ok(r.expr.includes('job="redis-cluster-dev"') && !r.expr.includes('job="redis"'), `${r.alert}: ${r.expr}`);
    assert.equal(r.labels.job, "redis-cluster-dev", r.alert);
  }
  assert.equal(prom!.inputs.ports.length, 1);
  assert.deepEqual({ ...prom!.inputs.ports[0], protocol: undefined }, { internal: 9090, external: 19090, ip: "127.0.0.1", protocol: undefined });
  assert.ok(uploads.every((u) => !("source" in u) || u.source === undefined), "content, not host paths");

  // Nowhere in plain inputs: not in args, envs, uploads or command lines.
  for (const r of rs) assert.ok(!plainStrings(r.inputs).some((s) => s.includes(PASSWORD)), `${r.type} ${r.name} leaks the password`);
});

test("a plain-string password is still wrapped as a secret; no password means no REDIS_PASSWORD", async () => {
  const { DockerMonitoring } = await import("../../../infra/components/dockerMonitoring");
  const nodes = [0, 1, 2].map((i) => ({ name: `n${i}`, host: `10.0.0.${i + 2}`, port: 6379 }));
  const a = await mocks.run(async () => new DockerMonitoring("plainpw", { networkName: "net", nodes, job: "a", masters: 3, replicasPerMaster: 0, password: "plain-pw-123456" }));
  const b = await mocks.run(async () => new DockerMonitoring("nopw", { networkName: "net", nodes, job: "b", masters: 3, replicasPerMaster: 0 }));
  await settled(a);
  await settled(b);
  const mine = (prefix: string) => mocks.resources.filter((r) => r.name.startsWith(`${prefix}-exporter-`) && r.type === "docker:index/container:Container");
  assert.equal(mine("plainpw").length, 3);
  for (const r of mine("plainpw")) {
    assert.ok(isSecretInput(r.inputs.envs));
    assert.ok(!plainStrings(r.inputs).some((s) => s.includes("plain-pw-123456")));
  }
  for (const r of mine("nopw")) assert.ok(!(r.inputs.envs as string[]).some((e) => e.startsWith("REDIS_PASSWORD")));
  assert.throws(() => new DockerMonitoring("empty", { networkName: "net", nodes: [], job: "c", masters: 3, replicasPerMaster: 0 }), /nodes/);
});

test("backup: a Pushgateway container published on the host, scraped with honor_labels, the backup rules loaded", async () => {
  const { DockerMonitoring } = await import("../../../infra/components/dockerMonitoring");
  const { PUSHGATEWAY_IMAGE } = await import("../../../monitoring/images");
  const before = mocks.resources.length;
  const mon = await mocks.run(async () =>
    new DockerMonitoring("pg", {
      networkName: "redis-net-dev",
      nodes: [{ name: "redis-0", host: "172.28.0.10", port: 6379 }],
      job: "redis-cluster-dev",
      masters: 3,
      replicasPerMaster: 1,
      pushgateway: { name: "redis-cluster-dev-pushgateway", hostPort: 19091, cluster: "redis-cluster-dev" },
    }),
  );
  await settled(mon);
  const rs = mocks.resources.slice(before);
  const pg = rs.find((r) => r.type === "docker:index/container:Container" && r.name === "redis-cluster-dev-pushgateway")!;
  assert.ok(pg, "Pushgateway container");
  assert.deepEqual({ ...pg.inputs.ports[0], protocol: undefined }, { internal: 9091, external: 19091, ip: "127.0.0.1", protocol: undefined });
  assert.ok(rs.some((r) => r.type === "docker:index/remoteImage:RemoteImage" && r.inputs.name === PUSHGATEWAY_IMAGE));
  const uploads = rs.find((r) => r.name === "pg-prometheus")!.inputs.uploads as { file: string; content: string }[];
  const cfg = parse(uploads.find((u) => u.file === "/etc/prometheus/prometheus.yml")!.content);
  const scrape = cfg.scrape_configs.find((c: { job_name: string }) => c.job_name === "pushgateway");
  assert.deepEqual(scrape, { job_name: "pushgateway", honor_labels: true, static_configs: [{ targets: ["redis-cluster-dev-pushgateway:9091"] }] });
  const rules = parse(uploads.find((u) => u.file.startsWith("/etc/prometheus/rules/"))!.content);
  const backup = rules.groups.find((g: { name: string }) => g.name === "redis-backup");
  assert.ok(backup.rules.some((r: { alert: string; expr: string }) => r.alert === "RedisRestoreDrillFailed" && r.expr.includes('cluster="redis-cluster-dev"')));
});
