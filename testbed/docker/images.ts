// Stand-in images for the dev stack, built from Debian packages (no registry is reachable): one minbase rootfs with
// redis-server/redis-tools, prometheus, prometheus-redis-exporter and wget, imported once and tagged three ways with the
// entrypoint, user and workdir of the official image it replaces. One rootfs instead of three: one debootstrap run (the
// packages share most of their dependencies), one cache file and one import; the three images share its layer.
import { createHash } from "node:crypto";
import { spawnSync } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type Docker from "dockerode";
import { mountsUnder } from "./daemon";

export const STANDIN_PACKAGES = ["redis-server", "redis-tools", "prometheus", "prometheus-redis-exporter", "wget"] as const;

/** uid/gid of `redis` in the official redis images (the program runs the nodes as 999:999). */
export const REDIS_UID = 999;
/** The official prom/prometheus image runs as nobody. */
const NOBODY_UID = 65534;
/** The official oliver006/redis_exporter image runs as 59000:59000. */
const EXPORTER_UID = 59000;

// Runs inside the chroot after debootstrap. Debian's redis-server package creates `redis` with the next free system
// uid; the official image has 999, which the program relies on (uploads owned by 999, `user: 999:999`).
const SETUP_SCRIPT = `set -eu
old_uid=$(id -u redis); old_gid=$(id -g redis)
other=$(getent passwd ${REDIS_UID} | cut -d: -f1 || true)
[ -z "$other" ] || [ "$other" = redis ] || { echo "uid ${REDIS_UID} is taken by $other" >&2; exit 1; }
groupmod -g ${REDIS_UID} redis
usermod -u ${REDIS_UID} -g ${REDIS_UID} redis
find / -xdev \\( -uid "$old_uid" -o -gid "$old_gid" \\) -exec chown -h ${REDIS_UID}:${REDIS_UID} {} +
# A new named volume mounted on /data takes the ownership of the image's /data: redis (999) must own it.
mkdir -p /data /prometheus
chown ${REDIS_UID}:${REDIS_UID} /data
chown ${NOBODY_UID}:${NOBODY_UID} /prometheus
apt-get clean
# Not needed to run the servers; 218 MB of them are the web UI's JavaScript (the API and /-/ready need none).
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /usr/share/javascript /usr/share/doc /usr/share/man \
  /usr/share/locale /usr/share/info
`;

export interface StandInImages {
  /** Tags to put in the stack config: redisImage, monitoring.exporterImage, monitoring.prometheusImage. */
  redis: string;
  exporter: string;
  prometheus: string;
  key: string;
  /** The rootfs came from the cache (no debootstrap). */
  cached: boolean;
  buildMs: number;
  importMs: number;
}

/** The Debian mirror and suite apt already uses (deb822 .sources or one-line .list), read at run time. */
export function debianMirror(): { uri: string; suite: string } {
  const codename = /^VERSION_CODENAME=(.+)$/m.exec(readFileSync("/etc/os-release", "utf8"))?.[1]?.trim();
  if (!codename) throw new Error("/etc/os-release has no VERSION_CODENAME: not a Debian system?");
  const files: string[] = [];
  if (existsSync("/etc/apt/sources.list")) files.push("/etc/apt/sources.list");
  if (existsSync("/etc/apt/sources.list.d")) {
    for (const f of readdirSync("/etc/apt/sources.list.d").sort()) {
      if (f.endsWith(".list") || f.endsWith(".sources")) files.push(join("/etc/apt/sources.list.d", f));
    }
  }
  for (const f of files) {
    const text = readFileSync(f, "utf8");
    if (f.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (k: string) => new RegExp(`^${k}:\\s*(.+)$`, "mi").exec(stanza)?.[1].trim();
        if (field("Enabled") === "no" || !(field("Types") ?? "").split(/\s+/).includes("deb")) continue;
        const suites = (field("Suites") ?? "").split(/\s+/);
        const uri = (field("URIs") ?? "").split(/\s+/)[0];
        if (uri && suites.includes(codename) && /\/debian\/?$/.test(uri)) return { uri, suite: codename };
      }
    } else {
      for (const line of text.split("\n")) {
        const m = /^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s/.exec(line);
        if (m && m[2] === codename && /\/debian\/?$/.test(m[1])) return { uri: m[1], suite: codename };
      }
    }
  }
  throw new Error(`no enabled Debian '${codename}' source in ${files.join(", ")}: debootstrap needs the mirror apt uses`);
}

/** Default cache: /var/cache/redis-cluster-test (root), overridable with REDIS_CLUSTER_IMAGE_CACHE. */
export function defaultCacheDir(): string {
  return process.env.REDIS_CLUSTER_IMAGE_CACHE ?? "/var/cache/redis-cluster-test";
}

function run(cmd: string, args: string[], what: string, timeoutMs: number): void {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0) {
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n").slice(-20).join("\n");
    throw new Error(`${what} failed (${r.error?.message ?? `exit ${r.status}`}):\n${out}`);
  }
}

/** Builds (or finds in the cache) the rootfs tarball for the package list; returns its path. */
export function standInRootfs(opts: { cacheDir?: string; log?: (l: string) => void } = {}): { tarball: string; key: string; cached: boolean; buildMs: number } {
  return debootstrapRootfs(STANDIN_PACKAGES, SETUP_SCRIPT, opts);
}

/**
 * The smoke Job's image (node:20-alpine in the program): Debian's nodejs (18 on bookworm; the smoke bundle targets
 * node18) in a rootfs of its own, so the Redis stand-in's cache key and image stay as they are.
 */
export const NODE_PACKAGES = ["nodejs"] as const;
/** uid/gid of `node` in the official node images (the smoke Job runs as 1000:1000). */
export const NODE_UID = 1000;
const NODE_SETUP_SCRIPT = `set -eu
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log /usr/share/doc /usr/share/man /usr/share/locale /usr/share/info
`;
export function nodeRootfs(opts: { cacheDir?: string; log?: (l: string) => void } = {}): { tarball: string; key: string; cached: boolean; buildMs: number } {
  return debootstrapRootfs(NODE_PACKAGES, NODE_SETUP_SCRIPT, opts);
}

/** Imports the Node rootfs (built first when not cached) as `redis-cluster-standin/node:<key>`, running as 1000:1000. */
export async function ensureNodeImage(docker: Docker, opts: { cacheDir?: string; log?: (l: string) => void } = {}): Promise<{ image: string; cached: boolean; buildMs: number; importMs: number }> {
  return importAsNodeUser(docker, "redis-cluster-standin/node", nodeRootfs(opts));
}

/**
 * The backup, restore and drill Jobs' image (backup.image): Debian's nodejs, restic and redis-server (the drill's
 * throwaway servers) in a rootfs of its own, run as 1000:1000 like the Node stand-in.
 */
export const BACKUP_PACKAGES = ["nodejs", "restic", "redis-server"] as const;
export function backupRootfs(opts: { cacheDir?: string; log?: (l: string) => void } = {}): { tarball: string; key: string; cached: boolean; buildMs: number } {
  return debootstrapRootfs(BACKUP_PACKAGES, NODE_SETUP_SCRIPT, opts);
}

/** Imports the backup rootfs (built first when not cached) as `redis-cluster-standin/backup:<key>`, running as 1000:1000. */
export async function ensureBackupImage(docker: Docker, opts: { cacheDir?: string; log?: (l: string) => void } = {}): Promise<{ image: string; cached: boolean; buildMs: number; importMs: number }> {
  return importAsNodeUser(docker, "redis-cluster-standin/backup", backupRootfs(opts));
}

/**
 * The Pushgateway's image (monitoring/images.ts PUSHGATEWAY_IMAGE, prom/pushgateway): Debian's
 * prometheus-pushgateway in a rootfs of its own, run as nobody (65534) like the official image.
 */
export const PUSHGATEWAY_PACKAGES = ["prometheus-pushgateway"] as const;
export function pushgatewayRootfs(opts: { cacheDir?: string; log?: (l: string) => void } = {}): { tarball: string; key: string; cached: boolean; buildMs: number } {
  return debootstrapRootfs(PUSHGATEWAY_PACKAGES, NODE_SETUP_SCRIPT, opts);
}

/** Imports the Pushgateway rootfs (built first when not cached) as `redis-cluster-standin/pushgateway:<key>`. */
export async function ensurePushgatewayImage(docker: Docker, opts: { cacheDir?: string; log?: (l: string) => void } = {}): Promise<{ image: string; cached: boolean; buildMs: number; importMs: number }> {
  const rootfs = pushgatewayRootfs(opts);
  const repo = "redis-cluster-standin/pushgateway";
  const t0 = Date.now();
  // In memory only, as prom/pushgateway runs by default: Debian's build defaults --persistence.file to a path under /var/lib.
  const changes = [`USER ${NOBODY_UID}:${NOBODY_UID}`, "WORKDIR /", 'ENTRYPOINT ["/usr/bin/prometheus-pushgateway", "--persistence.file="]'];
  await drain((await docker.importImage(createReadStream(rootfs.tarball) as any, { repo, tag: rootfs.key, changes } as any)) as unknown as NodeJS.ReadableStream, "docker import");
  return { image: `${repo}:${rootfs.key}`, cached: rootfs.cached, buildMs: rootfs.buildMs, importMs: Date.now() - t0 };
}

async function importAsNodeUser(docker: Docker, repo: string, rootfs: { tarball: string; key: string; cached: boolean; buildMs: number }) {
  const image = `${repo}:${rootfs.key}`;
  const t0 = Date.now();
  const changes = [`USER ${NODE_UID}:${NODE_UID}`, "WORKDIR /", 'CMD ["node"]'];
  await drain((await docker.importImage(createReadStream(rootfs.tarball) as any, { repo, tag: rootfs.key, changes } as any)) as unknown as NodeJS.ReadableStream, "docker import");
  return { image, cached: rootfs.cached, buildMs: rootfs.buildMs, importMs: Date.now() - t0 };
}

function debootstrapRootfs(
  packages: readonly string[],
  setupScript: string,
  opts: { cacheDir?: string; log?: (l: string) => void },
): { tarball: string; key: string; cached: boolean; buildMs: number } {
  const log = opts.log ?? (() => undefined);
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const mirror = debianMirror();
  // The key names what is inside: suite, packages and the set-up script (not the mirror, which serves the same suite).
  const key = createHash("sha256").update(JSON.stringify({ suite: mirror.suite, packages, setup: setupScript })).digest("hex").slice(0, 16);
  const tarball = join(cacheDir, `rootfs-${key}.tar`);
  if (existsSync(tarball) && statSync(tarball).size > 0) return { tarball, key, cached: true, buildMs: 0 };

  if (spawnSync("sh", ["-c", "command -v debootstrap"]).status !== 0) {
    throw new Error("debootstrap is not installed: run sh scripts/install-system-deps.sh as root (Debian package debootstrap)");
  }
  mkdirSync(cacheDir, { recursive: true });
  const build = join(cacheDir, `build-${key}-${process.pid}`);
  const root = join(build, "root");
  const t0 = Date.now();
  log(`building the stand-in rootfs ${key} with debootstrap from ${mirror.uri} (${mirror.suite}): ${packages.join(" ")}`);
  try {
    run("debootstrap", ["--variant=minbase", `--include=${packages.join(",")}`, mirror.suite, root, mirror.uri], "debootstrap", 900_000);
    run("chroot", [root, "/bin/sh", "-c", setupScript], "stand-in set-up in the chroot", 120_000);
    for (const m of mountsUnder(root).reverse()) spawnSync("umount", ["-l", m]);
    const tmp = `${tarball}.${process.pid}.tmp`;
    run("tar", ["-C", root, "--numeric-owner", "-cf", tmp, "."], "tar of the rootfs", 300_000);
    renameSync(tmp, tarball); // atomic: a concurrent run sees a whole tarball or none
  } finally {
    for (const m of mountsUnder(build).reverse()) spawnSync("umount", ["-l", m]);
    rmSync(build, { recursive: true, force: true });
  }
  const buildMs = Date.now() - t0;
  log(`rootfs ${key} built in ${(buildMs / 1000).toFixed(1)} s (${(statSync(tarball).size / 1e6).toFixed(0)} MB)`);
  return { tarball, key, cached: false, buildMs };
}

async function drain(stream: NodeJS.ReadableStream, what: string): Promise<void> {
  let text = "";
  for await (const chunk of stream) text += chunk.toString();
  for (const line of text.split("\n")) {
    if (line.includes('"error"')) throw new Error(`${what}: ${line}`);
  }
}

/** Imports the rootfs into the engine and tags the three stand-ins; builds the rootfs first when it is not cached. */
export async function ensureStandInImages(docker: Docker, opts: { cacheDir?: string; log?: (l: string) => void } = {}): Promise<StandInImages> {
  const log = opts.log ?? (() => undefined);
  const rootfs = standInRootfs(opts);
  const tag = rootfs.key;
  const images = {
    redis: `redis-cluster-standin/redis:${tag}`,
    exporter: `redis-cluster-standin/redis-exporter:${tag}`,
    prometheus: `redis-cluster-standin/prometheus:${tag}`,
  };
  const t0 = Date.now();
  // Image config of each official image the stand-in replaces.
  const changes: Record<keyof typeof images, string[]> = {
    redis: [`USER ${REDIS_UID}:${REDIS_UID}`, "WORKDIR /data", 'CMD ["redis-server"]'],
    exporter: [`USER ${EXPORTER_UID}:${EXPORTER_UID}`, 'ENTRYPOINT ["/usr/bin/prometheus-redis-exporter"]'],
    prometheus: [
      `USER ${NOBODY_UID}:${NOBODY_UID}`,
      "WORKDIR /prometheus",
      'ENTRYPOINT ["/usr/bin/prometheus"]',
      'CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]',
      "VOLUME /prometheus",
    ],
  };
  const [first, ...rest] = Object.keys(images) as (keyof typeof images)[];
  const [repo, t] = images[first].split(":");
  await drain((await docker.importImage(createReadStream(rootfs.tarball) as any, { repo, tag: t, changes: changes[first] } as any)) as unknown as NodeJS.ReadableStream, "docker import");
  // The others: commit a never-started container of the first with their own config; no second copy of the layer.
  for (const name of rest) {
    const c = await docker.createContainer({ Image: images[first] });
    try {
      const [r, tt] = images[name].split(":");
      await c.commit({ repo: r, tag: tt, changes: changes[name] } as any);
    } finally {
      await c.remove({ force: true });
    }
  }
  const importMs = Date.now() - t0;
  log(`stand-in images ${tag} ${rootfs.cached ? "from the cache" : "built"}; imported in ${(importMs / 1000).toFixed(1)} s`);
  return { ...images, key: tag, cached: rootfs.cached, buildMs: rootfs.buildMs, importMs };
}

// `tsx testbed/docker/images.ts`: builds the rootfs into the cache when it is missing (scripts/setup.sh runs it before
// the tests, so a cold cache does not eat a test's time bound).
if (require.main === module) {
  if (process.getuid?.() !== 0) {
    console.error("stand-in images: not root, skipped (debootstrap and the Docker tests need root)");
  } else {
    for (const build of [standInRootfs, nodeRootfs, backupRootfs, pushgatewayRootfs]) {
      const r = build({ log: (l) => console.error(`stand-in images: ${l}`) });
      if (r.cached) console.error(`stand-in images: rootfs ${r.key} is cached (${r.tarball})`);
    }
  }
}
