// The restart scenarios of the prod pods on the pods runner, one case per file of this folder, in the order
// `npm run pods:scenarios` runs them on one deployment (after ./first-deploy.ts). Each is judged from what the nodes
// and clients observed: every node's own view (./cluster.ts), the acknowledged writes read back after the scenario
// (./writers.ts), the time until the cluster was whole again; each gives one table row (./report.ts). The rotations
// come last: each is another `pulumi up` from the state of the last one.
import type { UpResult } from "../../../testbed/pods/runner";
import type { ConfigInput } from "../../../testbed/engine/engine";
import { editRedisConf, type ProdCluster } from "./cluster";
import type { Row } from "./report";
import { gracefulFullRestart } from "./graceful";
import { rollingRestart } from "./rolling";
import { forceDeletedMaster } from "./force";
import { crashSwappedIpsLateMaster } from "./swap-late";
import { masterAbsent } from "./absent";
import { drainNodes } from "./drain";
import { passwordRotation } from "./rotation";

export { KEYS, ProdCluster, STACK, STS, editRedisConf } from "./cluster";
export { contextAt, table, writesHeld, type Row } from "./report";
export { firstDeploy, scenarioConfig } from "./first-deploy";
export { gracefulFullRestart, rollingRestart, forceDeletedMaster, crashSwappedIpsLateMaster, masterAbsent, drainNodes, passwordRotation };

/** The deployment the scenarios share: its cluster and, for the rotations, the last successful up and its config. */
export interface Deployment {
  cluster: ProdCluster;
  last: UpResult;
  config: Record<string, ConfigInput>;
  /** Project directory of the program (another checkout), if not this one. */
  root?: string;
}

export interface Scenario {
  name: string;
  about: string;
  run(d: Deployment): Promise<Row>;
}

/** A rotation from the last successful up; on success it becomes the last. */
async function rotate(d: Deployment, opts: { rotateSmoke?: boolean }): Promise<Row> {
  const r = await passwordRotation(d.cluster, d.last, d.config, d.root, opts);
  if (r.up?.run.ok) {
    d.last = r.up;
    d.config = r.config;
  }
  return r.row;
}

const validityFactor = (n: number) => (conf: string) => conf.replace(/^cluster-replica-validity-factor .*$/m, `cluster-replica-validity-factor ${n}`);

export const SCENARIOS = [
  { name: "graceful", about: "graceful full restart, all-new IPs", run: (d) => gracefulFullRestart(d.cluster) },
  { name: "rolling", about: "rolling restart under the writers", run: (d) => rollingRestart(d.cluster) },
  { name: "force", about: "a master's pod force-deleted", run: (d) => forceDeletedMaster(d.cluster) },
  { name: "swap-late", about: "crash restart, IPs rotated, a master late", run: (d) => crashSwappedIpsLateMaster(d.cluster) },
  { name: "absent-reuse", about: "a master absent, its IP reused by another shard's master", run: (d) => masterAbsent(d.cluster, true) },
  { name: "absent", about: "a master absent, its IP not reused", run: (d) => masterAbsent(d.cluster, false) },
  {
    // The trade-off: the same case with Redis' default validity factor (10), set in the pods' ConfigMap.
    name: "absent-factor10",
    about: "same as absent with clusterReplicaValidityFactor 10",
    run: async (d) => {
      editRedisConf(d.cluster.runner, validityFactor(10));
      try {
        return await masterAbsent(d.cluster, false, "same, clusterReplicaValidityFactor 10 (before the fix)", false);
      } finally {
        editRedisConf(d.cluster.runner, validityFactor(0));
      }
    },
  },
  { name: "drain", about: "pods evicted node by node honouring the PodDisruptionBudget", run: (d) => drainNodes(d.cluster) },
  { name: "rotation", about: "admin's password rotated by another up", run: (d) => rotate(d, {}) },
  { name: "rotation-smoke", about: "admin's and the smoke user's passwords rotated, the application switching", run: (d) => rotate(d, { rotateSmoke: true }) },
] as const satisfies readonly Scenario[];

export type ScenarioName = (typeof SCENARIOS)[number]["name"];
