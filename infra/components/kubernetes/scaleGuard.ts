import * as pulumi from "@pulumi/pulumi";

export interface Topology {
  masters: number;
  replicasPerMaster: number;
}

/**
 * Why a change of topology must be refused, or undefined. Pure, so it is tested directly.
 * Fewer pods means the StatefulSet deletes the highest ordinals — after any failover those may be masters, so
 * their slots (and data) would be gone. Growing is allowed: bootstrap.sh then reports the new, empty nodes.
 */
export function scaleDownProblem(previous: Partial<Topology> | undefined, next: Topology, allowScaleDown: boolean): string | undefined {
  if (allowScaleDown || previous?.masters === undefined || previous.replicasPerMaster === undefined) return undefined;
  const pods = (t: Topology) => t.masters * (1 + t.replicasPerMaster);
  const before = { masters: previous.masters, replicasPerMaster: previous.replicasPerMaster };
  if (next.masters >= before.masters && next.replicasPerMaster >= before.replicasPerMaster) return undefined;
  const show = (t: Topology) => `${t.masters} masters x ${t.replicasPerMaster} replicas (${pods(t)} pods)`;
  return (
    `refusing to scale down from ${show(before)} to ${show(next)}: the StatefulSet would delete the pods with the highest ` +
    `ordinals, which may serve slots after any failover, and their data with them. To shrink: move the slots off those pods ` +
    `(redis-cli --cluster reshard, then --cluster del-node; docs/runbooks.md), then run one update with ` +
    `redis-cluster:kubernetes.allowScaleDown set to true. Otherwise set masters/replicasPerMaster back to ${before.masters}/${before.replicasPerMaster}.`
  );
}

// The engine hands `check` the inputs of the last deployment (`olds`): the guard compares them with the new
// ones during preview, before any Kubernetes object changes, without needing a live cluster.
// Dynamic providers are serialized into the stack state; this one captures only scaleDownProblem.
const provider: pulumi.dynamic.ResourceProvider = {
  async check(olds: any, news: any) {
    const problem = scaleDownProblem(olds, news, news.allowScaleDown === true);
    return problem ? { inputs: news, failures: [{ property: "masters", reason: problem }] } : { inputs: news };
  },
  async diff(_id: string, olds: any, news: any) {
    return { changes: olds.masters !== news.masters || olds.replicasPerMaster !== news.replicasPerMaster || olds.allowScaleDown !== news.allowScaleDown };
  },
  async create(inputs: any) {
    return { id: "topology", outs: inputs };
  },
  async update(_id: string, _olds: any, news: any) {
    return { outs: news };
  },
};

export interface ScaleGuardArgs extends Topology {
  allowScaleDown: boolean;
}

/**
 * Records the deployed topology in the stack state and fails preview/up with a clear message when masters or
 * replicasPerMaster go down (unless kubernetes.allowScaleDown). The StatefulSet depends on it.
 */
export class ScaleGuard extends pulumi.dynamic.Resource {
  declare readonly masters: pulumi.Output<number>;
  declare readonly replicasPerMaster: pulumi.Output<number>;

  constructor(name: string, args: ScaleGuardArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args }, opts, "redis-cluster", "ScaleGuard");
  }
}
