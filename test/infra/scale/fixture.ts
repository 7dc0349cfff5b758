// The scale tests' cluster: a local 3x1 with keys seeded and a WAIT writer running (testbed startWrittenCluster),
// stopped after the file's tests whatever they did.
import { after } from "node:test";
import { startWrittenCluster } from "../../../testbed/local/scaleCluster";

type Started = Awaited<ReturnType<typeof startWrittenCluster>>;

/** Registers the cleanup; `start()` brings the cluster up (once per file). */
export function writtenClusterFixture(password: string, keys: number) {
  let started: Started | undefined;
  after(async () => {
    started?.client.disconnect();
    await started?.c.stop();
  });
  return {
    async start(): Promise<Started> {
      started = await startWrittenCluster(password, keys);
      return started;
    },
  };
}
