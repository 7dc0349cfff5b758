// Run synchronously from a process that is exiting (see daemon.ts): removes everything through the Engine API, then
// stops dockerd with SIGTERM and waits for it (bounded). Arguments: <socket> <dockerd pid>.
import { readFileSync } from "node:fs";
import Docker from "dockerode";
import { sleep } from "../../smoke/time";
import { removeEverything } from "./daemon";

const [socket, pidText] = process.argv.slice(2);
const pid = Number(pidText);
// A dockerd that exited is a zombie of the (exiting) parent until it is reaped: count it as gone.
const alive = () => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
};
(async () => {
  try {
    await removeEverything(new Docker({ socketPath: socket, timeout: 20_000 }));
  } catch (e) {
    console.error(`emergency stop: API cleanup failed: ${(e as Error).message}`);
  }
  if (alive()) process.kill(pid, "SIGTERM");
  const until = Date.now() + 20_000;
  while (alive() && Date.now() < until) await sleep(100);
})();
