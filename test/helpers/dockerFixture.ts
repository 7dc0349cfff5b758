// The Docker dev-stack tests' fixture: one private dockerd per file, the stand-in images, the dev stack's config
// on a subnet and ports of its own, and Redis/cluster helpers that reach the nodes only through 127.0.0.1.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Redis, { Cluster } from "ioredis";
import { startDockerd, mountsUnder, type PrivateDockerd } from "../../testbed/docker/daemon";
import { ensureNodeImage, ensureStandInImages, type StandInImages } from "../../testbed/docker/images";
import { dockerDevConfig, type DockerDevConfig } from "../../testbed/docker/devStack";
import { destroy, up, type UpArgs, type UpResult } from "../../testbed/docker/stack";
import { sleep } from "../../smoke/time";
import { parseInfo } from "../../smoke/topology";


export const STACK = "dev";
export const NODE = (i: number) => `redis-cluster-${STACK}-node-${i}`;
export const BOOTSTRAP = `redis-cluster-${STACK}-bootstrap`;
export const SMOKE = `redis-cluster-${STACK}-smoke-run`;

export interface Fixture {
  engine: PrivateDockerd;
  images: StandInImages;
  cfg: DockerDevConfig;
  dir: string;
  /** The first `up`'s result (outputs: natMap, hostSeeds, redisPassword, ...). */
  first?: UpResult;
  password: string;
  timings: Record<string, string>;
}

export async function setUp(opts: { smokeEnabled?: boolean; monitoringEnabled?: boolean; tls?: boolean; acl?: boolean } = {}): Promise<Fixture> {
  const dir = mkdtempSync(join(tmpdir(), "docker-dev-stack-"));
  // The state file holds the password: removed even when the file's time bound ends the process.
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  const timings: Record<string, string> = {};
  // Fails with dockerd's own words when it cannot start.
  const engine = await startDockerd();
  timings.daemonStart = `${engine.startMs} ms`;
  try {
    const [images, node] = await Promise.all([ensureStandInImages(engine.docker), ensureNodeImage(engine.docker)]);
    timings.images = images.cached ? `cached rootfs, import ${images.importMs} ms` : `debootstrap ${images.buildMs} ms, import ${images.importMs} ms`;
    timings.nodeImage = `import ${node.importMs} ms`;
    const cfg = await dockerDevConfig({ ...images, node: node.image }, { smokeEnabled: opts.smokeEnabled, monitoringEnabled: opts.monitoringEnabled, tls: opts.tls, acl: opts.acl });
    return { engine, images, cfg, dir, password: "", timings };
  } catch (e) {
    await engine.stop();
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
}

export async function tearDown(f: Fixture | undefined, name: string): Promise<void> {
  if (!f) return;
  try {
    const d = f.engine.dir;
    await f.engine.stop();
    assert.deepEqual(mountsUnder(d), [], "no mount left under the daemon's directory");
  } finally {
    rmSync(f.dir, { recursive: true, force: true });
    console.log(`${name} timings: ${JSON.stringify(f.timings)}`);
  }
}

export const upArgs = (f: Fixture, extra: Partial<UpArgs> = {}): UpArgs => ({
  stack: f.cfg.stack,
  stackConfig: f.cfg.stackConfig,
  socket: f.engine.socket,
  stateFile: join(f.dir, "state.json"),
  // A first `up` with TLS and ACL on is slow on a loaded machine (the containers' creation dominates).
  timeoutMs: 300_000,
  ...extra,
});
/** One `pulumi up` (the program through the test engine, steps applied to the private engine). */
export const runUp = (f: Fixture, extra: Partial<UpArgs> = {}) => up(upArgs(f, extra));
/** One field of an INFO reply (the Docker index tests import it from here). */
export const field = (info: string, k: string): string | undefined => parseInfo(info)[k]?.trim();

/**
 * With tls.enabled: ioredis `tls` options from the stack outputs (CA, client certificate and key), as a host
 * application would use them; every node certificate names 127.0.0.1, so the host name is verified too.
 */
export function hostTls(f: Fixture): { ca: string; cert: string; key: string } | undefined {
  const o = f.first?.outputs;
  return o?.tlsCaCert ? { ca: o.tlsCaCert as string, cert: o.tlsClientCert as string, key: o.tlsClientKey as string } : undefined;
}

export async function onNode<T>(f: Fixture, i: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({
    host: "127.0.0.1", port: f.cfg.hostPortBase + i, password: f.password, lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 2000, retryStrategy: () => null,
    tls: hostTls(f),
  });
  r.on("error", () => undefined); // reported by the command that fails
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** Every node: cluster_state ok, 16384 slots ok, 6 known nodes; every replica's link up. Bounded. */
export async function waitClusterHealthy(f: Fixture, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < until) {
    try {
      const bad: string[] = [];
      for (let i = 0; i < 6; i++) {
        const [info, repl] = await onNode(f, i, async (r) => [(await r.cluster("INFO")) as string, (await r.info("replication")) as string]);
        if (field(info, "cluster_state") !== "ok" || field(info, "cluster_slots_ok") !== "16384" || field(info, "cluster_known_nodes") !== "6") {
          bad.push(`node ${i}: state ${field(info, "cluster_state")} slots_ok ${field(info, "cluster_slots_ok")} known ${field(info, "cluster_known_nodes")}`);
        }
        if (field(repl, "role") === "slave" && field(repl, "master_link_status") !== "up") bad.push(`node ${i}: master link ${field(repl, "master_link_status")}`);
      }
      if (bad.length === 0) return;
      last = bad.join("; ");
    } catch (e) {
      last = (e as Error).message;
    }
    await sleep(500);
  }
  throw new Error(`cluster not healthy within ${timeoutMs} ms: ${last}`);
}

/** The cluster client a host application would use: published seeds and the stack's natMap. */
export function hostCluster(f: Fixture): Cluster {
  const natMap = f.first!.outputs.natMap as Record<string, { host: string; port: number }>;
  const c = new Cluster((f.first!.outputs.hostSeeds as string[]).map((s) => ({ host: s.split(":")[0], port: Number(s.split(":")[1]) })), {
    natMap,
    redisOptions: { password: f.password, connectTimeout: 2000, tls: hostTls(f) },
    clusterRetryStrategy: (n) => (n > 30 ? null : 300),
    slotsRefreshTimeout: 2000,
  });
  c.on("error", () => undefined);
  return c;
}

/** "id address role slots" of every node as node 0 sees it, without link state: a snapshot of the formed cluster. */
export async function topology(f: Fixture): Promise<string[]> {
  const nodes = (await onNode(f, 0, (r) => r.cluster("NODES"))) as string;
  return nodes
    .trim()
    .split("\n")
    .map((l) => l.split(" "))
    .map((x) => `${x[0]} ${x[1].split("@")[0]} ${x[2].replace("myself,", "")} ${x.slice(8).join(" ")}`)
    .sort();
}

/** Writes every key as `v-<key>` through the host path (natMap), for assertKeys to check later. */
export async function writeKeys(f: Fixture, keys: string[]): Promise<void> {
  const cluster = hostCluster(f);
  try {
    for (const k of keys) await cluster.set(k, `v-${k}`);
  } finally {
    cluster.disconnect();
  }
}

export async function assertKeys(f: Fixture, keys: string[]): Promise<void> {
  const cluster = hostCluster(f);
  try {
    const missing: string[] = [];
    for (const k of keys) if ((await cluster.get(k)) !== `v-${k}`) missing.push(k);
    assert.deepEqual(missing, [], "every key is back");
  } finally {
    cluster.disconnect();
  }
}

/** `pulumi destroy`: removes at least `minDeleted` resources and leaves no container, volume or network of the stack. Returns the names deleted. */
export async function assertDestroyLeavesNothing(f: Fixture, minDeleted: number): Promise<string[]> {
  const deleted = await destroy(f.engine.socket, upArgs(f).stateFile);
  assert.ok(deleted.length >= minDeleted, `deleted ${deleted.length}, expected at least ${minDeleted}`);
  const d = f.engine.docker;
  assert.deepEqual((await d.listContainers({ all: true })).map((c) => c.Names), []);
  assert.deepEqual(((await d.listVolumes()).Volumes ?? []).map((v) => v.Name), []);
  assert.deepEqual((await d.listNetworks()).map((n) => n.Name).filter((n) => !["host", "none", "bridge"].includes(n)), []);
  return deleted;
}
