// A local 3x1 cluster with TLS on every channel (client port, cluster bus, replication) and tls-auth-clients yes, so
// every consumer must present the client certificate: the bootstrap script (redis-cli --cluster create over TLS), the
// smoke test with a kill failover (ioredis + the load generator), redis_exporter over rediss:// with its metrics read
// over plain HTTP, then a certificate renewal on the running cluster with a writer that must see no error.
// All the while `ps` is sampled: the password must never be on any process's argv.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { connect as tlsConnect } from "node:tls";
import { connect as netConnect } from "node:net";
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { freePorts } from "../../../testbed/local/ports";
import { runSmoke } from "../../../smoke/run";
import { clusterClient } from "../../../smoke/clients";
import { DEFAULT_OPTIONS } from "../../../smoke/types";
import { argvSampler } from "../../helpers/argvSampler";
import { exporterAddress, exporterTlsEnv } from "../../../infra/plan/tls";
import { scriptPaths } from "../../../infra/plan/scripts";
import { sleep } from "../../../smoke/time";

const PASSWORD = `tls-${randomBytes(12).toString("hex")}`;

/** Subject CN of the certificate node `port` presents to a new TLS connection (with the client certificate). */
function peerCommonName(c: LocalCluster, port: number): Promise<string> {
  const client = c.tlsClient()!;
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: "127.0.0.1", port, ...client }, () => {
      const cn = s.getPeerCertificate().subject?.CN;
      s.destroy();
      resolve(String(cn));
    });
    s.setTimeout(15_000, () => s.destroy(new Error("TLS handshake timed out")));
    s.on("error", reject);
  });
}

/** Result of a TLS handshake without a client certificate (the cluster bus must refuse it). */
function handshakeWithoutCert(c: LocalCluster, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tlsConnect({ host: "127.0.0.1", port, ca: c.tlsClient()!.ca });
    const done = (what: string) => {
      s.destroy();
      resolve(what);
    };
    // TLS 1.3: the server's refusal of a missing client certificate arrives after the client's handshake completes.
    s.once("secureConnect", () => s.write("PING\r\n"));
    s.once("data", () => done("answered"));
    // `on`, not `once`: a second error after destroy() must not become an uncaught exception.
    s.on("error", (e) => done(`error: ${e.message}`));
    s.once("close", () => done("closed"));
    s.setTimeout(15_000, () => done("timeout"));
  });
}

/** What a plaintext client gets from a TLS port: no +PONG. */
function plaintextPing(port: number): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const s = netConnect({ host: "127.0.0.1", port }, () => s.write(`AUTH ${PASSWORD}\r\nPING\r\n`));
    s.on("data", (d) => (got += d.toString("latin1")));
    const done = () => {
      s.destroy();
      resolve(got);
    };
    s.once("close", done);
    s.on("error", done);
    s.setTimeout(3000, done);
  });
}

test("TLS on every channel: bootstrap, smoke with kill failover, exporter, plaintext refused, renewal without errors, no password on argv", { timeout: 300_000 }, async (t) => {
  const t0 = Date.now();
  const timings: Record<string, number> = {};
  const mark = (k: string) => {
    timings[k] = Date.now() - t0;
    console.log(`tls test: ${k} at ${timings[k]} ms`);
  };
  const sampler = argvSampler();
  const procs: ChildProcess[] = [];
  const killProcs = () => procs.forEach((p) => p.exitCode === null && p.signalCode === null && p.kill("SIGKILL"));
  process.once("exit", killProcs);
  let c: LocalCluster | undefined;
  try {
    c = await startLocalCluster({ masters: 3, replicasPerMaster: 1, password: PASSWORD, nodeTimeoutMs: 2000, tls: { authClients: "yes" }, timeoutMs: 60_000 });
    mark("clusterUp");
    const cl = c;
    assert.ok(cl.tls, "the harness made the TLS files");

    // The running configuration: no plaintext port, TLS on the bus and for replication, client certificates required.
    const conf = (k: string) => cl.cli(0, ["config", "get", k]).stdout.trim().split("\n")[1];
    assert.equal(conf("port"), "0");
    assert.equal(conf("tls-port"), String(cl.nodes[0].port));
    assert.equal(conf("tls-cluster"), "yes");
    assert.equal(conf("tls-replication"), "yes");
    assert.equal(conf("tls-auth-clients"), "yes");
    // Replication over TLS: every replica's link is up (bounded wait: the first sync follows the create).
    const linksDeadline = Date.now() + 60_000;
    for (let i = 0, ok = false; !ok; i++) {
      ok = cl.nodes.every((_, j) => !/role:slave/.test(cl.cli(j, ["info", "replication"]).stdout) || /master_link_status:up/.test(cl.cli(j, ["info", "replication"]).stdout));
      if (!ok && (i >= 300 || Date.now() > linksDeadline)) assert.fail("replica links not up within 60 s");
      if (!ok) await sleep(200);
    }

    // Refusals: plaintext on the client port, TLS without a client certificate (client port with authClients yes, and
    // the bus, which always requires one).
    const plain = await plaintextPing(cl.nodes[0].port);
    assert.ok(!plain.includes("+PONG") && !plain.includes("+OK"), `a plaintext client must not be served, got ${JSON.stringify(plain.slice(0, 80))}`);
    const noCertClient = await handshakeWithoutCert(cl, cl.nodes[0].port);
    assert.notEqual(noCertClient, "answered", "client port served a TLS client without a certificate");
    const noCertBus = await handshakeWithoutCert(cl, cl.nodes[0].busPort);
    assert.notEqual(noCertBus, "answered", "cluster bus served a TLS peer without a certificate");
    const r = spawnSync("redis-cli", ["-h", "127.0.0.1", "-p", String(cl.nodes[0].port), "ping"], { env: cl.cliEnv(), encoding: "utf8", timeout: 5000 });
    assert.ok(!r.stdout.includes("PONG"), "redis-cli without --tls got PONG");

    // redis_exporter over TLS (rediss:// and the client certificate from its environment), scraped over plain HTTP.
    const [exporterPort] = await freePorts(1);
    const files = { ca: cl.tls.ca, ...cl.tls.client };
    const exporter = spawn("prometheus-redis-exporter", ["--web.listen-address", `127.0.0.1:${exporterPort}`], {
      env: { PATH: process.env.PATH, REDIS_ADDR: exporterAddress(true, "127.0.0.1", cl.nodes[0].port), REDIS_PASSWORD: PASSWORD, ...exporterTlsEnv(files) },
      stdio: "ignore",
    });
    procs.push(exporter);
    let metrics = "";
    // Bounded by time and count; a slow scrape on a loaded host (the body read can outlast the timeout) is retried.
    const scrapeDeadline = Date.now() + 30_000;
    for (let i = 0; i < 100 && Date.now() < scrapeDeadline && !/^redis_cluster_state 1$/m.test(metrics); i++) {
      await sleep(200);
      metrics = await fetch(`http://127.0.0.1:${exporterPort}/metrics`, { signal: AbortSignal.timeout(5000) }).then((x) => x.text()).catch(() => "");
    }
    assert.match(metrics, /^redis_up 1$/m, "exporter reached the node over TLS");
    assert.match(metrics, /^redis_cluster_state 1$/m);
    assert.match(metrics, /^redis_cluster_slots_assigned 16384$/m);
    mark("exporterScraped");

    // The smoke test over TLS, with a real failover (the frozen master's replica takes over).
    const report = await runSmoke({
      ...DEFAULT_OPTIONS,
      nodes: cl.seeds,
      password: PASSWORD,
      tls: cl.tlsClient(),
      expectMasters: 3,
      expectReplicas: 1,
      failover: "kill",
      failBack: false,
      workloads: false,
      keys: 300,
      // Generous: the checks share 2 cores with other work (a failover check timed out at 70 s under load 38).
      timeoutMs: 150_000,
      bench: { ops: 2000, concurrency: 20, pipeline: 4, valueSize: 3, connections: 1, rate: 0 },
    });
    const failed = report.checks.filter((x) => !x.ok).map((x) => `${x.name}: ${x.problems.join("; ")}`);
    assert.equal(report.exit_code, 0, failed.join("\n") || report.error);
    assert.equal(report.checks.find((x) => x.name === "failover")?.status, "passed");
    assert.equal(report.checks.find((x) => x.name === "benchmark")?.status, "passed");
    mark("smokeDone");

    // Renewal on the running cluster: a writer runs throughout; every node gets a new certificate (new key) at the
    // same paths, then infra/scripts/tls-reload.sh (what the Docker stack runs after new files) makes each node re-read
    // its files with CONFIG SET. New connections see the new certificate.
    const writer = clusterClient({ seeds: cl.seeds, password: PASSWORD, tls: cl.tlsClient(), natMap: {}, nodeTimeoutMs: 2000, commandTimeoutMs: 5000 });
    await writer.connect();
    let writes = 0;
    const errors: string[] = [];
    let writing = true;
    const loop = (async () => {
      for (let n = 0; writing && n < 1_000_000; n++) {
        try {
          await writer.set(`renewal:${n % 1000}`, String(n));
          writes++;
        } catch (e) {
          errors.push((e as Error).message);
        }
      }
    })();
    const before = await peerCommonName(cl, cl.nodes[1].port);
    assert.equal(before, cl.nodes[1].name);
    for (let i = 0; i < cl.nodes.length; i++) cl.tls.renewNode(i);
    assert.equal(await peerCommonName(cl, cl.nodes[1].port), cl.nodes[1].name, "new files alone change nothing until the reload");
    const reload = spawnSync("sh", [scriptPaths.tlsReload], { env: { ...cl.cliEnv(), REDIS_NODES: cl.seeds.join(" ") }, encoding: "utf8", timeout: 60_000 });
    assert.equal(reload.status, 0, reload.stdout + reload.stderr);
    assert.match(reload.stderr, /reloaded on 6 node\(s\)/);
    for (let i = 0; i < cl.nodes.length; i++) {
      assert.equal(await peerCommonName(cl, cl.nodes[i].port), `${cl.nodes[i].name}-renewed-1`, `new connections to ${cl.nodes[i].name} see the new certificate`);
    }
    // A node that does not answer is skipped (it loads the files when it starts), the others still reload.
    const skip = spawnSync("sh", [scriptPaths.tlsReload], { env: { ...cl.cliEnv(), REDIS_NODES: `127.0.0.1:1 ${cl.seeds[0]}`, RELOAD_CALL_TIMEOUT: "2" }, encoding: "utf8", timeout: 60_000 });
    assert.equal(skip.status, 0, skip.stderr);
    assert.match(skip.stderr, /127\.0\.0\.1:1 does not answer: skipped/);
    assert.match(skip.stderr, /reloaded on 1 node\(s\)/);
    mark("renewed");
    // The bus reconnects with the new certificates too: every node still sees the cluster ok and all peers connected.
    await sleep(1000);
    writing = false;
    await loop;
    writer.disconnect();
    assert.deepEqual(errors.slice(0, 5), [], `${errors.length} writes failed during the renewal`);
    assert.ok(writes > 100, `the writer ran (${writes} writes)`);
    for (let i = 0; i < cl.nodes.length; i++) {
      assert.match(cl.cli(i, ["cluster", "info"]).stdout, /cluster_state:ok/);
      assert.doesNotMatch(cl.cli(i, ["cluster", "nodes"]).stdout, /disconnected|fail/);
    }
    assert.equal(readFileSync(cl.tls.ca, "utf8").includes("BEGIN CERTIFICATE"), true);

    const argv = sampler.stop();
    assert.ok(argv.some((l) => l.includes("redis-server")), "the ps sampler saw the servers");
    assert.ok(argv.some((l) => l.includes("redis-cli") && l.includes("--tls")), "the ps sampler saw redis-cli over TLS");
    const leaked = argv.filter((l) => l.includes(PASSWORD));
    assert.deepEqual(leaked, [], "the password was on a command line");
    t.diagnostic(`timings (ms): ${JSON.stringify({ ...timings, total: Date.now() - t0 })}; writes during renewal ${writes}; ${argv.length} distinct argv seen`);
  } finally {
    sampler.stop();
    killProcs();
    process.removeListener("exit", killProcs);
    await c?.stop();
  }
});

test("redis_exporter reads its client certificate per connection: a renewed certificate is used without a restart", { timeout: 60_000 }, async () => {
  // Issued by testbed/tlsProvider.ts (openssl): a trusted CA, a node certificate, and client certificates from the trusted
  // CA and from another one. The node requires client certificates, so the exporter's redis_up says which it presented.
  const { applyTls, TLS_TYPES } = await import("../../../testbed/tlsProvider");
  const { mkdtempSync, writeFileSync, renameSync, rmSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const [KEY, SELF, CSR, SIGNED] = TLS_TYPES;
  const newKey = async (name: string) => (await applyTls({ type: KEY, name, inputs: { algorithm: "ECDSA", ecdsaCurve: "P256" } })).outputs.privateKeyPem as string;
  const ca = async (name: string) => {
    const key = await newKey(name);
    const c = await applyTls({ type: SELF, name, inputs: { privateKeyPem: key, isCaCertificate: true, subject: { commonName: name }, validityPeriodHours: 24, allowedUses: ["cert_signing", "digital_signature"] } });
    return { key, cert: c.outputs.certPem as string };
  };
  const leaf = async (issuer: { key: string; cert: string }, name: string) => {
    const key = await newKey(name);
    const csr = await applyTls({ type: CSR, name, inputs: { privateKeyPem: key, subject: { commonName: name }, ipAddresses: ["127.0.0.1"] } });
    const c = await applyTls({
      type: SIGNED, name,
      inputs: { certRequestPem: csr.outputs.certRequestPem, caPrivateKeyPem: issuer.key, caCertPem: issuer.cert, validityPeriodHours: 24, allowedUses: ["digital_signature", "key_encipherment", "server_auth", "client_auth"] },
    });
    return { key, cert: c.outputs.certPem as string };
  };
  const dir = mkdtempSync(join(tmpdir(), "exporter-cert-"));
  const procs: ChildProcess[] = [];
  try {
    const trusted = await ca("trusted CA");
    const other = await ca("other CA");
    const server = await leaf(trusted, "node");
    const good = await leaf(trusted, "client");
    const bad = await leaf(other, "client");
    const file = (f: string, text: string) => writeFileSync(join(dir, f), text, { mode: 0o600 });
    file("ca.crt", trusted.cert);
    file("node.crt", server.cert);
    file("node.key", server.key);
    // As a renewal delivers it: new files renamed over the old ones (a kubelet Secret update swaps a symlink likewise).
    const install = (c: { cert: string; key: string }) => {
      file("new.crt", c.cert);
      file("new.key", c.key);
      renameSync(join(dir, "new.crt"), join(dir, "client.crt"));
      renameSync(join(dir, "new.key"), join(dir, "client.key"));
    };
    install(bad);
    const [port, metricsPort] = await freePorts(2);
    procs.push(spawn("redis-server", [
      "--port", "0", "--tls-port", String(port), "--bind", "127.0.0.1", "--tls-auth-clients", "yes", "--save", "", "--appendonly", "no", "--dir", dir,
      "--tls-cert-file", join(dir, "node.crt"), "--tls-key-file", join(dir, "node.key"), "--tls-ca-cert-file", join(dir, "ca.crt"),
    ], { stdio: "ignore" }));
    procs.push(spawn("prometheus-redis-exporter", [], {
      stdio: "ignore",
      env: {
        PATH: process.env.PATH, REDIS_ADDR: exporterAddress(true, "127.0.0.1", port), REDIS_EXPORTER_WEB_LISTEN_ADDRESS: `127.0.0.1:${metricsPort}`,
        ...exporterTlsEnv({ ca: join(dir, "ca.crt"), cert: join(dir, "client.crt"), key: join(dir, "client.key") }),
      },
    }));
    const redisUp = async (): Promise<string> => {
      for (let k = 0; k < 40; k++) {
        try {
          const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(5000) })).text();
          return /^redis_up (\d)$/m.exec(text)?.[1] ?? "absent";
        } catch {
          await sleep(250); // the exporter is still starting
        }
      }
      return "no /metrics";
    };
    assert.equal(await redisUp(), "0", "an untrusted client certificate is refused (the node requires one)");
    install(good);
    assert.equal(await redisUp(), "1", "the renewed certificate is used on the next scrape, without a restart");
    install(bad);
    assert.equal(await redisUp(), "0", "and read again on each connection");
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
