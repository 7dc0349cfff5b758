// Background process behind `npm run local:up`: keeps the local cluster running (restarting nodes that exit,
// as Docker's restart policy would) until SIGTERM, then tears it down. State goes to <stateDir>/state.json and is
// rewritten whenever a node's pid changes, so `local:status` and `local:down` see the processes that really run.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalCluster, type LocalCluster } from "../../testbed/local/harness";
import { loadStackSpecFile } from "../../testbed/local/stackSpec";
import { Canary } from "../../smoke/canary/canary";
import { serveCanary, type CanaryServer } from "../../smoke/canary/server";

async function main() {
  const [stateDir, stackFile, name, portList] = process.argv.slice(2);
  const password = readFileSync(join(stateDir, "password"), "utf8").trim();
  const spec = loadStackSpecFile(stackFile, name);
  const ports = portList.split(",").map(Number);
  const statePath = join(stateDir, "state.json");
  let cluster: LocalCluster | undefined;
  let startToOkMs: number | undefined;
  let canary: { canary: Canary; server: CanaryServer } | undefined;
  const write = (c: LocalCluster, extra: Record<string, unknown> = {}) => {
    const state = {
      supervisorPid: process.pid,
      stack: name,
      dir: c.dir,
      startToOkMs,
      nodes: c.nodes.map((n) => ({ name: n.name, host: n.host, port: n.port, busPort: n.busPort, pid: n.pid(), restarts: n.restarts, logFile: n.logFile })),
      ...(canary ? { canary: { metrics: `http://127.0.0.1:${canary.server.port}/metrics` } } : {}),
      ...extra,
    };
    writeFileSync(statePath + ".tmp", JSON.stringify(state, null, 2));
    writeFileSync(statePath, readFileSync(statePath + ".tmp"));
    rmSync(statePath + ".tmp", { force: true });
  };
  try {
    cluster = await startLocalCluster({
      spec,
      password,
      ports,
      // The data folder is recorded before any server starts: `local:down` finds its servers even if this process dies early.
      onCreated: (c) => write(c, { starting: true }),
      onRestart: () => cluster && write(cluster),
    });
    startToOkMs = cluster.startToOkMs;
    // The stack's canary (canary.enabled), in this process: its log goes to the supervisor's, its metrics to a free port.
    if (spec.canary.enabled) {
      const c = new Canary({
        seeds: cluster.seeds,
        password: cluster.acl ? cluster.acl.passwords.canary : password,
        username: cluster.acl ? "canary" : undefined,
        intervalMs: spec.canary.intervalMs,
        timeoutMs: spec.canary.timeoutMs,
        log: (l) => console.log(`canary: ${l}`),
      });
      canary = { canary: c, server: await serveCanary(c, { host: "127.0.0.1", port: 0 }) };
      c.start();
    }
    write(cluster);
    const shutdown = async () => {
      await canary?.canary.stop();
      await canary?.server.close();
      await cluster?.stop();
      rmSync(statePath, { force: true });
      process.exit(0);
    };
    process.on("SIGTERM", shutdown);
    process.on("SIGINT", shutdown);
    // Keep the event loop alive until a signal arrives.
    setInterval(() => undefined, 60_000);
  } catch (e) {
    writeFileSync(statePath, JSON.stringify({ supervisorPid: process.pid, error: (e as Error).message }));
    process.exit(1);
  }
}

void main();
