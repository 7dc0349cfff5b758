// The dev stack's config (Pulumi.dev.yaml) for a run on a private Docker engine: the stand-in images, and a subnet and
// host ports of its own, so it never collides with a local cluster on 7001+/9090 or another run's network.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { parse } from "yaml";
import type { ConfigInput } from "../engine/engine";
import { PROJECT_ROOT } from "./stack";
import type { StandInImages } from "./images";

export interface DockerDevConfig {
  stack: string;
  /** The stack file's config with this run's changes (objects as in Pulumi.<stack>.yaml). */
  stackConfig: Record<string, ConfigInput>;
  subnet: string;
  hostPortBase: number;
  prometheusPort: number;
  /** Host port of the canary's /metrics and /view. */
  canaryPort: number;
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen({ port, host: "127.0.0.1", exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** `count` consecutive free client ports whose bus ports (+offset) are free too, below the ephemeral range; bounded scan. */
async function freeRange(count: number, busOffset: number): Promise<number> {
  const lo = 20000;
  const hi = 32768 - busOffset - count;
  for (let k = 0; k < 200; k++) {
    const base = lo + Math.floor(Math.random() * (hi - lo));
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = (await canListen(base + i)) && (await canListen(base + i + busOffset));
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports (with bus ports +${busOffset}) on 127.0.0.1`);
}

/** A /24 in 172.31.0.0/16 that no route on this host uses (another engine's bridge, a namespace test's veth). */
function freeSubnet(): string {
  const routes = spawnSync("ip", ["-4", "route", "show", "table", "all"], { encoding: "utf8" }).stdout ?? "";
  for (let k = 0; k < 200; k++) {
    const x = Math.floor(Math.random() * 256);
    if (!routes.includes(`172.31.${x}.`)) return `172.31.${x}.0/24`;
  }
  throw new Error("no free /24 in 172.31.0.0/16");
}

/** `images.node`: the Node stand-in (ensureNodeImage) the canary runs on; needed when the stack enables the canary. */
export async function dockerDevConfig(images: Pick<StandInImages, "redis" | "exporter" | "prometheus"> & { node?: string }, opts: { stack?: string; smokeKeys?: number; smokeEnabled?: boolean; monitoringEnabled?: boolean; tls?: boolean; acl?: boolean; canaryEnabled?: boolean } = {}): Promise<DockerDevConfig> {
  const doc = parse(readFileSync(join(PROJECT_ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, any> };
  const raw: Record<string, any> = { ...doc.config };
  const dockerCfg = { ...(raw["redis-cluster:docker"] ?? {}) };
  const busOffset = dockerCfg.busPortOffset ?? 10000;
  const stack = opts.stack ?? "dev";
  const subnet = freeSubnet();
  const hostPortBase = await freeRange(raw["redis-cluster:masters"] * (1 + raw["redis-cluster:replicasPerMaster"]), busOffset);
  const count = raw["redis-cluster:masters"] * (1 + raw["redis-cluster:replicasPerMaster"]);
  const taken = (p: number) => (p >= hostPortBase && p < hostPortBase + count) || (p >= hostPortBase + busOffset && p < hostPortBase + busOffset + count);
  const freePort = async (what: string, not: number[] = []) => {
    for (let k = 0; k < 200; k++) {
      const p = 20000 + Math.floor(Math.random() * 10000);
      if (!taken(p) && !not.includes(p) && (await canListen(p))) return p;
    }
    throw new Error(`no free port for ${what} on 127.0.0.1`);
  };
  const prometheusPort = await freePort("Prometheus");
  const canaryPort = await freePort("the canary", [prometheusPort]);
  raw["redis-cluster:docker"] = { ...dockerCfg, subnet, hostPortBase, prometheusPort, canaryPort, announceHost: "127.0.0.1" };
  raw["redis-cluster:redisImage"] = images.redis;
  raw["redis-cluster:monitoring"] = { ...(raw["redis-cluster:monitoring"] ?? {}), exporterImage: images.exporter, prometheusImage: images.prometheus };
  if (opts.monitoringEnabled !== undefined) raw["redis-cluster:monitoring"] = { ...raw["redis-cluster:monitoring"], enabled: opts.monitoringEnabled };
  if (opts.smokeKeys !== undefined) raw["redis-cluster:smoke"] = { ...(raw["redis-cluster:smoke"] ?? {}), keys: opts.smokeKeys };
  if (opts.smokeEnabled !== undefined) raw["redis-cluster:smoke"] = { ...(raw["redis-cluster:smoke"] ?? {}), enabled: opts.smokeEnabled };
  // The prod security settings on the dev stack (off in Pulumi.dev.yaml): TLS on every channel, ACL users (default = admin).
  if (opts.tls !== undefined) raw["redis-cluster:tls"] = { ...(raw["redis-cluster:tls"] ?? {}), enabled: opts.tls };
  if (opts.acl !== undefined) raw["redis-cluster:acl"] = { ...(raw["redis-cluster:acl"] ?? {}), enabled: opts.acl };
  if (opts.canaryEnabled !== undefined) raw["redis-cluster:canary"] = { ...(raw["redis-cluster:canary"] ?? {}), enabled: opts.canaryEnabled };
  if (raw["redis-cluster:canary"]?.enabled) {
    if (!images.node) throw new Error("dockerDevConfig: the stack enables the canary: pass images.node (testbed/docker/images.ts ensureNodeImage)");
    raw["redis-cluster:canary"] = { ...raw["redis-cluster:canary"], image: images.node };
  }
  return { stack, stackConfig: raw, subnet, hostPortBase, prometheusPort, canaryPort };
}
