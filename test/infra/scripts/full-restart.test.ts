// Stable identity across restarts, for real: the shared entrypoint with the refresh-peers hook on local redis-server
// processes. Nodes move to other loopback addresses (a pod restarted with a new IP) and find each other again
// through their stable names — resolved here from a hosts-format file (REDIS_HOSTS_FILE) instead of cluster DNS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cluster } from "ioredis";
import { startLocalCluster, type LocalCluster } from "../../../testbed/local/harness";
import { dnsName, waitHealthy as waitHealthyOf, withClient as withClientOf, writeHosts } from "../../helpers/restartedCluster";
import { scriptPaths } from "../../../infra/plan/scripts";
import { sleep } from "../../../smoke/time";

const PASSWORD = "restartTestPassword-0123456789";
const KEYS = 2000;
const NODE_TIMEOUT_MS = 5000; // as in Pulumi.prod.yaml
const addrs = (base: number) => Array.from({ length: 6 }, (_, i) => `127.0.0.${base + i}`);

let cluster: LocalCluster | undefined;
let tmp: string;
// Per start: which hosts file a node's hook reads and how long it waits for missing names.
let hostsFileOf: (i: number) => string;
let resolveTimeout = "10";
let hookEnabled = true;

const waitHealthy = (timeoutMs: number) => waitHealthyOf(c(), timeoutMs);
const withClient = <T>(fn: (r: Cluster) => Promise<T>) => withClientOf(c(), PASSWORD, fn);

function c(): LocalCluster {
  assert.ok(cluster, "cluster started");
  return cluster;
}

async function assertKeysIntact() {
  await withClient(async (r) => {
    const keys = Array.from({ length: KEYS }, (_, i) => `key:${i}`);
    const values = await Promise.all(keys.map((k) => r.get(k)));
    const missing = keys.filter((k, i) => values[i] !== `value-${k}`);
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} of ${KEYS} keys lost or changed`);
  });
}

function restartEnv(i: number) {
  return {
    REDIS_ENTRYPOINT_HOOK: hookEnabled ? scriptPaths.refreshPeers : "",
    REDIS_HOSTS_FILE: hostsFileOf(i),
    REDIS_ANNOUNCE_HOSTNAME: dnsName(i),
    REDIS_PEER_RESOLVE_TIMEOUT: resolveTimeout,
  };
}

/**
 * The bootstrap as the Kubernetes Job runs it: retried on failure (Job backoffLimit). Right after `--cluster create`
 * with cluster-node-timeout 5000 the first node's view may not list every replica yet (gossip), and bootstrap.sh's
 * topology check then fails once; the retry finds the cluster formed and only verifies it.
 */
async function bootstrapWithRetries(attempts = 3) {
  const t0 = Date.now();
  let out = "";
  for (let k = 1; k <= attempts; k++) {
    const r = await c().runBootstrap();
    if (r.code === 0) {
      console.log(`# bootstrap ok after ${((Date.now() - t0) / 1000).toFixed(2)} s (attempt ${k})`);
      return;
    }
    out += `--- attempt ${k} (exit ${r.code})\n${r.output}`;
    await sleep(3000);
  }
  throw new Error(`bootstrap failed ${attempts} times:\n${out}`);
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), "redis-restart-test-"));
  const first = addrs(11);
  writeHosts(join(tmp, "hosts"), first.map((a, i) => [i, a]));
  hostsFileOf = () => join(tmp, "hosts");
  cluster = await startLocalCluster({
    hosts: first,
    password: PASSWORD,
    nodeTimeoutMs: NODE_TIMEOUT_MS,
    extraEnv: (node) => restartEnv(node.index),
    timeoutMs: 60_000,
    bootstrap: false,
  });
  await bootstrapWithRetries();
  await withClient(async (r) => {
    for (let i = 0; i < KEYS; i += 200) {
      await Promise.all(Array.from({ length: 200 }, (_, j) => r.set(`key:${i + j}`, `value-key:${i + j}`)));
    }
  });
  // Replicas must have the keys before anything restarts (AOF everysec; SIGTERM flushes it on stop).
  for (let i = 0; i < 6; i++) c().cli(i, ["wait", "1", "5000"]);
});

after(async () => {
  await cluster?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("nodes.conf keeps each node's announced stable name (what the hook looks up)", () => {
  const conf = readFileSync(join(c().nodes[0].dataDir, "nodes.conf"), "utf8");
  for (let i = 0; i < 6; i++) assert.ok(conf.includes(`,${dnsName(i)}`), `nodes.conf lists ${dnsName(i)}`);
});

test("single node restarted on a new address rejoins without CLUSTER MEET", { timeout: 90_000 }, async () => {
  const moved = "127.0.0.41";
  await c().stopNode(1);
  writeHosts(join(tmp, "hosts"), c().nodes.map((n, i) => [i, i === 1 ? moved : n.host]));
  const t0 = Date.now();
  c().startNode(1, { host: moved });
  await c().waitReady(1);
  await waitHealthy(60_000);
  console.log(`# single-node restart on ${moved}: healthy (ok, all linked at current addresses) ${((Date.now() - t0) / 1000).toFixed(2)} s after start`);
  await assertKeysIntact();
});

test("FULL restart, every node on a new address, names resolvable: back to ok, every key intact", { timeout: 120_000 }, async () => {
  const next = addrs(21);
  await Promise.all(c().nodes.map((_, i) => c().stopNode(i)));
  writeHosts(join(tmp, "hosts"), next.map((a, i) => [i, a]));
  const t0 = Date.now();
  for (let i = 0; i < 6; i++) c().startNode(i, { host: next[i] });
  await waitHealthy(90_000);
  console.log(`# FULL restart (all names resolvable): healthy ${((Date.now() - t0) / 1000).toFixed(2)} s after start`);
  await assertKeysIntact();
  const r = await c().runBootstrap();
  assert.equal(r.code, 0, `bootstrap re-check after restart:\n${r.output}`);
  assert.match(r.output, /already formed/);
});

test("FULL restart with DNS lagging (node i resolves only nodes 0..i, no waiting): gossip completes it", { timeout: 120_000 }, async () => {
  const next = addrs(31);
  await Promise.all(c().nodes.map((_, i) => c().stopNode(i)));
  for (let i = 0; i < 6; i++) writeHosts(join(tmp, `hosts-${i}`), next.slice(0, i + 1).map((a, j) => [j, a]));
  hostsFileOf = (i) => join(tmp, `hosts-${i}`);
  resolveTimeout = "0";
  const t0 = Date.now();
  for (let i = 0; i < 6; i++) {
    c().startNode(i, { host: next[i] });
    await sleep(200); // pods get their IPs one after another
  }
  await waitHealthy(90_000);
  console.log(`# FULL restart (staggered DNS, worst case): healthy ${((Date.now() - t0) / 1000).toFixed(2)} s after the first start`);
  await assertKeysIntact();
  const r = await c().runBootstrap();
  assert.equal(r.code, 0, `bootstrap re-check after restart:\n${r.output}`);
});

test("control: without the hook a full restart on new addresses stays down; with it the same nodes recover", { timeout: 120_000 }, async () => {
  const next = addrs(51);
  await Promise.all(c().nodes.map((_, i) => c().stopNode(i)));
  writeHosts(join(tmp, "hosts"), next.map((a, i) => [i, a]));
  hostsFileOf = () => join(tmp, "hosts");
  resolveTimeout = "10";
  // Same entrypoint, hook disabled: nodes.conf keeps the old addresses.
  hookEnabled = false;
  try {
    for (let i = 0; i < 6; i++) c().startNode(i, { host: next[i] });
    await assert.rejects(waitHealthy(3 * NODE_TIMEOUT_MS), /not healthy/, "without the hook the cluster must not recover");
    const info = c().cli(0, ["cluster", "info"]).stdout;
    assert.match(info, /cluster_state:fail/, "after the node timeout the stale cluster reports fail");
  } finally {
    hookEnabled = true;
  }
  await Promise.all(c().nodes.map((_, i) => c().stopNode(i)));
  const t0 = Date.now();
  for (let i = 0; i < 6; i++) c().startNode(i, { host: next[i] });
  await waitHealthy(90_000);
  console.log(`# the broken cluster, restarted with the hook: healthy after ${((Date.now() - t0) / 1000).toFixed(2)} s`);
  await assertKeysIntact();
});
