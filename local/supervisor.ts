// Background process behind `npm run local:up`: keeps the local cluster running (restarting nodes that exit,
// as Docker's restart policy would) until SIGTERM, then tears it down. State goes to <stateDir>/state.json.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startLocalCluster } from "./harness";
import { loadStackSpec } from "./stackSpec";

async function main() {
  const [stateDir, stack, portList] = process.argv.slice(2);
  const password = readFileSync(join(stateDir, "password"), "utf8").trim();
  const spec = loadStackSpec(stack);
  const ports = portList.split(",").map(Number);
  const statePath = join(stateDir, "state.json");
  try {
    const cluster = await startLocalCluster({ spec, password, ports });
    const state = {
      supervisorPid: process.pid,
      stack,
      dir: cluster.dir,
      startToOkMs: cluster.startToOkMs,
      nodes: cluster.nodes.map((n) => ({ name: n.name, host: n.host, port: n.port, busPort: n.busPort, pid: n.pid(), logFile: n.logFile })),
    };
    writeFileSync(statePath, JSON.stringify(state, null, 2));
    const shutdown = async () => {
      await cluster.stop();
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
