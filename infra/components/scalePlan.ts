import * as pulumi from "@pulumi/pulumi";
import { previewScaling, topologyProblem, type LayoutEntry, type Topology } from "../plan/scaling";

// The engine hands `check` the inputs of the last deployment (`olds`) during preview, before anything changes and
// without a live cluster: the plan (who joins, who leaves, which slot ranges move where) is computed there and returned
// as the `plan` input, so `pulumi preview --diff` shows it and the `scalePlan` stack output carries it.
// Dynamic providers are serialized into the stack state; this one captures only pure functions of infra/plan/scaling.
const provider: pulumi.dynamic.ResourceProvider = {
  async check(olds: any, news: any) {
    const next: Topology = { masters: news.masters, replicasPerMaster: news.replicasPerMaster, nodes: news.nodes };
    const bad = topologyProblem(next);
    if (bad) return { inputs: news, failures: [{ property: "masters", reason: bad }] };
    const previous: (Topology & { layout?: LayoutEntry[] }) | undefined = olds?.masters !== undefined && Array.isArray(olds?.nodes)
      ? { masters: olds.masters, replicasPerMaster: olds.replicasPerMaster, nodes: olds.nodes, layout: olds.layout }
      : undefined;
    const { decision, lines, layout } = previewScaling(previous, next);
    if (decision?.problems.length) {
      return { inputs: news, failures: [{ property: "masters", reason: `cannot scale ${previous!.masters}x${previous!.replicasPerMaster} -> ${next.masters}x${next.replicasPerMaster}: ${decision.problems.join("; ")}` }] };
    }
    // `layout`: the roles and slot ranges this plan leads to, the starting point of the next preview.
    return { inputs: { masters: news.masters, replicasPerMaster: news.replicasPerMaster, nodes: news.nodes, plan: lines, layout } };
  },
  async diff(_id: string, olds: any, news: any) {
    const changes = olds.masters !== news.masters || olds.replicasPerMaster !== news.replicasPerMaster || JSON.stringify(olds.nodes) !== JSON.stringify(news.nodes);
    return { changes };
  },
  async create(inputs: any) {
    return { id: "topology", outs: inputs };
  },
  async update(_id: string, _olds: any, news: any) {
    return { outs: news };
  },
};

export interface ScalePlanArgs {
  masters: number;
  replicasPerMaster: number;
  /** Planned node names in ordinal order (containers or pods). */
  nodes: string[];
}

/**
 * Records the deployed topology in the stack state and shows, at preview, what the scale step will do to reach the new
 * one (`plan`: lines such as "move 4096 slots: 1365 slots node-0 -> node-6: 4096-5460"). Refuses a topology that
 * cannot hold a cluster (fewer than 3 masters) or cannot be reached without resetting a node, before anything changes.
 */
export class ScalePlan extends pulumi.dynamic.Resource {
  declare readonly masters: pulumi.Output<number>;
  declare readonly replicasPerMaster: pulumi.Output<number>;
  declare readonly plan: pulumi.Output<string[]>;

  constructor(name: string, args: ScalePlanArgs, opts?: pulumi.CustomResourceOptions) {
    super(provider, name, { ...args, plan: undefined, layout: undefined }, opts, "redis-cluster", "ScalePlan");
  }
}
