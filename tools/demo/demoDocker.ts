// npm run demo:docker — the dev stack on a real Docker engine, for a person to watch: a private dockerd, stand-in
// images from Debian packages, the Pulumi program applied resource by resource (testbed/docker/stack.ts), the smoke
// test with a kill failover from the host through the natMap, Prometheus' view, then everything torn down.
// Needs root (dockerd, debootstrap). Nothing leaves this machine: ports are published on 127.0.0.1 only.
// `npm run demo:docker -- --secure`: the same with the prod security settings (TLS on every channel, ACL users), then a
// password rotation as a second `pulumi up` (a new admin password): rotate add, the nodes re-created, rotate remove,
// and the smoke step again, whose old-passwords check must find the retired password refused on every node.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDockerd, type PrivateDockerd } from "../../testbed/docker/daemon";
import { ensureNodeImage, ensureStandInImages } from "../../testbed/docker/images";
import { dockerDevConfig } from "../../testbed/docker/devStack";
import { destroy, readState, up, type UpResult } from "../../testbed/docker/stack";
import { generatePassword } from "../../testbed/local/acl";

const t0 = Date.now();
const say = (l: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${l}`);

async function prometheusSummary(url: string): Promise<string> {
  try {
    const get = async (path: string) => ((await (await fetch(`${url}${path}`, { signal: AbortSignal.timeout(5000) })).json()) as { data: any }).data;
    const targets = (await get("/api/v1/targets")).activeTargets as { health: string }[];
    const alerts = (await get("/api/v1/alerts")).alerts as { state: string; labels: { alertname: string } }[];
    const firing = alerts.filter((a) => a.state === "firing").map((a) => a.labels.alertname);
    return `${targets.filter((t) => t.health === "up").length}/${targets.length} exporters up; firing alerts: ${firing.length ? firing.join(", ") : "none"}`;
  } catch (e) {
    return `not reachable (${(e as Error).message})`;
  }
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "demo-docker-"));
  let engine: PrivateDockerd | undefined;
  const stateFile = join(dir, "state.json");
  try {
    say("starting a private dockerd (own data-root, socket; no default bridge, host firewall untouched)");
    engine = await startDockerd();
    say(`dockerd answers after ${engine.startMs} ms on ${engine.socket}`);
    const [images, node] = await Promise.all([ensureStandInImages(engine.docker, { log: say }), ensureNodeImage(engine.docker, { log: say })]);
    const secure = process.argv.includes("--secure");
    const cfg = await dockerDevConfig({ ...images, node: node.image }, secure ? { tls: true, acl: true } : {});
    if (secure) say("--secure: tls.enabled and acl.enabled on (off in Pulumi.dev.yaml)");
    say(`dev stack from Pulumi.dev.yaml on subnet ${cfg.subnet}, nodes on 127.0.0.1:${cfg.hostPortBase}-${cfg.hostPortBase + 5}, Prometheus on 127.0.0.1:${cfg.prometheusPort}`);
    say("pulumi up (the program in Pulumi's Node.js runtime, as `pulumi up` runs it; each resource created on the engine as it registers):");
    const r = await up(
      { stack: cfg.stack, stackConfig: cfg.stackConfig, socket: engine.socket, stateFile },
      { log: (l) => say(`  ${l}`), commandOutput: (l) => say(`  smoke | ${l}`) },
    );
    if (!r.ok) {
      say(`pulumi up FAILED: ${r.error}`);
      return 1;
    }
    say(`up done in ${(r.totalMs / 1000).toFixed(1)} s; cluster formed (replicas synced) ${(r.doneAtMs[`redis-cluster-${cfg.stack}-bootstrap`] / 1000).toFixed(1)} s after the start`);
    say(`hostSeeds: ${(r.outputs.hostSeeds as string[]).join(", ")}`);
    say(`natMap: ${JSON.stringify(r.outputs.natMap)}`);
    say(`Prometheus ${r.outputs.prometheusUrl}: ${await prometheusSummary(r.outputs.prometheusUrl as string)}`);
    if (secure) {
      say("rotation: pulumi up with a new admin password (redis-cluster:password, a secret):");
      const rotated: UpResult = await up(
        { stack: cfg.stack, stackConfig: { ...cfg.stackConfig, "redis-cluster:password": { secret: generatePassword() } }, socket: engine.socket, stateFile },
        { log: (l) => say(`  ${l}`), commandOutput: (l) => say(`  smoke | ${l}`) },
      );
      if (!rotated.ok) {
        say(`rotation up FAILED: ${rotated.error}`);
        return 1;
      }
      const smoke = readState(stateFile).resources.find((x) => x.name === `redis-cluster-${cfg.stack}-smoke-run`);
      const line = String(smoke?.outputs.stdout ?? "").split("\n").find((l) => l.startsWith("old-passwords")) ?? "(no old-passwords line)";
      say(`rotation done in ${(rotated.totalMs / 1000).toFixed(1)} s; ${line.replace(/\s+/g, " ")}`);
      if (!/^old-passwords\s+PASS/.test(line)) return 1;
    }
    return 0;
  } catch (e) {
    say(`demo failed: ${(e as Error).message}`);
    return 1;
  } finally {
    if (engine) {
      say("pulumi destroy:");
      try {
        const deleted = await destroy(engine.socket, stateFile);
        say(`  ${deleted.length} resources deleted`);
      } catch (e) {
        say(`  destroy failed (${(e as Error).message}); the daemon's own cleanup removes the rest`);
      }
      await engine.stop();
      say("dockerd stopped; its containers, networks, volumes, mounts and directories are gone");
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

main().then((code) => process.exit(code));
