// External access against a real redis-server: a node started by the entrypoint with the pod's announce settings
// (external name, hostname endpoints, pod IP for the bus) and the Kubernetes node certificate from
// infra/plan/tlsCertificates.ts, made with openssl. An ioredis cluster client as docs/external-access.md configures it
// (dnsLookup keeping names; a resolver standing in for external DNS) verifies the node by its external name; with a
// certificate that lacks the external names the same client is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { lookup as dnsLookup, type LookupOneOptions } from "node:dns";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { Cluster, Redis } from "ioredis";
import { validateConfig } from "../../../infra/config/schema";
import { planCluster, podNodeEnv } from "../../../infra/plan/plan";
import { planCertificates } from "../../../infra/plan/tlsCertificates";
import { renderRedisConf } from "../../../infra/plan/redisConf";
import { scriptPaths } from "../../../infra/plan/scripts";
import { TestCa } from "../../../testbed/local/tls";
import { freePorts } from "../../../testbed/local/ports";
import { sleep } from "../../../smoke/time";

const DOMAIN = "redis.example.test";
const PASSWORD = `ext-${randomBytes(12).toString("hex")}`;
const spec = (enabled: boolean) =>
  validateConfig({ platform: "kubernetes", kubernetes: { externalAccess: { enabled, domain: DOMAIN, sourceRanges: ["127.0.0.0/8"] } } }, { name: "redis-cluster-prod" });

/** Stands in for the external DNS: every name under DOMAIN is the load balancer, here 127.0.0.1. */
function externalDns(hostname: string, options: LookupOneOptions & { all?: boolean }, cb: (...a: any[]) => void) {
  if (!hostname.endsWith(`.${DOMAIN}`)) return dnsLookup(hostname, options, cb);
  return options.all ? cb(null, [{ address: "127.0.0.1", family: 4 }]) : cb(null, "127.0.0.1", 4);
}

/** Waits (bounded) until `check` returns true; the last error or false is the failure. */
async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  let last: unknown = "false";
  for (let i = 0; i < 200 && Date.now() < end; i++) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  assert.fail(`${what} within ${ms} ms: ${last}`);
}

test("a client outside verifies every node by its external name; the bus keeps the pod address", { timeout: 60_000 }, async () => {
  const on = spec(true);
  const plan = planCluster(on);
  const node = plan.nodes[0];
  const dir = mkdtempSync(join(tmpdir(), "external-access-"));
  const procs: ChildProcess[] = [];
  const clients: (Redis | Cluster)[] = [];
  try {
    const ca = new TestCa(join(dir, "tls"));
    const certOf = (s: ReturnType<typeof spec>, base: string) => {
      const r = planCertificates(s, planCluster(s), "kubernetes").find((c) => c.id === "nodes")!;
      return ca.issue(base, r.commonName, r.sans);
    };
    const withNames = certOf(on, "nodes");
    const without = certOf(spec(false), "nodes-internal");
    const [port] = await freePorts(1, { withBus: true });
    writeFileSync(join(dir, "redis.conf"), renderRedisConf(on));
    mkdirSync(join(dir, "data"));
    // The pod's environment (statefulSet.ts) for node 0, with the pod IP 127.0.0.1.
    const announce = podNodeEnv(on, { name: node.name, ip: "127.0.0.1" });
    assert.equal(announce.REDIS_ANNOUNCE_HOSTNAME, `redis-cluster-prod-0.${DOMAIN}`);
    const server = spawn("sh", [scriptPaths.entrypoint], {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        PATH: process.env.PATH, REDIS_CONF_TEMPLATE: join(dir, "redis.conf"), REDIS_RUN_DIR: join(dir, "run"), REDIS_DATA_DIR: join(dir, "data"),
        ...announce, REDIS_PORT: String(port), REDIS_BIND: "127.0.0.1", REDIS_PASSWORD: PASSWORD,
        REDIS_TLS_CERT_FILE: withNames.cert, REDIS_TLS_KEY_FILE: withNames.key, REDIS_TLS_CA_FILE: ca.cert,
      },
    });
    procs.push(server);
    let log = "";
    server.stderr!.on("data", (d) => (log += d));
    const caPem = readFileSync(ca.cert, "utf8");
    const admin = new Redis({ host: "127.0.0.1", port, password: PASSWORD, tls: { ca: caPem, servername: node.externalHost }, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on("error", () => undefined); // connection refused until the node listens: `until` retries
    clients.push(admin);
    await until(`the node answers (${log})`, async () => {
      if (admin.status !== "ready") await admin.connect().catch(() => undefined);
      return (await admin.ping()) === "PONG";
    });
    await admin.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383");
    await until("cluster_state:ok", async () => String(await admin.call("CLUSTER", "INFO")).includes("cluster_state:ok"));

    // Clients are given the external name; the cluster bus (CLUSTER NODES address) the pod IP.
    const slots = (await admin.call("CLUSTER", "SLOTS")) as [number, number, [string, number, string, ...unknown[]]][];
    assert.equal(slots[0][2][0], node.externalHost);
    assert.equal(slots[0][2][1], port);
    const myself = String(await admin.call("CLUSTER", "NODES")).split("\n").find((l) => l.includes("myself"))!;
    assert.match(myself, new RegExp(`^\\w+ 127\\.0\\.0\\.1:${port}@${port + 10000},redis-cluster-prod-0\\.${DOMAIN.replace(/\./g, "\\.")}[ ,]`));

    // An outside client as docs/external-access.md says: start from the external name, keep names (TLS checks them).
    const errors: string[] = [];
    const outside = () => {
      const c = new Cluster([{ host: node.externalHost!, port }], {
        dnsLookup: (address, cb) => cb(null, address),
        redisOptions: { password: PASSWORD, tls: { ca: caPem, lookup: externalDns } as object, connectTimeout: 3000 },
        slotsRefreshTimeout: 3000,
        clusterRetryStrategy: () => null,
        lazyConnect: true,
      });
      c.on("error", (e: Error) => errors.push(e.message));
      c.on("node error", (e: Error) => errors.push(e.message));
      clients.push(c);
      return c;
    };
    const ok = outside();
    await ok.connect();
    await ok.set("external:key", "v");
    assert.equal(await ok.get("external:key"), "v");
    assert.deepEqual(ok.nodes("all").map((n) => n.options.host), [node.externalHost]);
    ok.disconnect();

    // The check can fail: the same node with a certificate that names only the in-cluster names is refused by name.
    await admin.config("SET", "tls-cert-file", without.cert, "tls-key-file", without.key);
    assert.deepEqual(errors, [], "no error while the certificate names the node");
    const refused = outside();
    await assert.rejects(refused.connect().then(() => refused.get("external:key")));
    // ioredis reports the cluster's failure as "Failed to refresh slots cache"; one connection shows the TLS error itself.
    const direct = new Redis({ host: node.externalHost!, port, tls: { ca: caPem, lookup: externalDns } as object, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    const tlsError = new Promise<string>((resolve) => direct.once("error", (e: Error) => resolve(e.message)));
    clients.push(direct);
    await assert.rejects(direct.connect());
    assert.match(await tlsError, new RegExp(`Host: ${node.externalHost!.replace(/\./g, "\\.")}\\. is not in the cert's altnames`));
  } finally {
    for (const c of clients) c.disconnect();
    for (const p of procs) p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});
