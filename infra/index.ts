// Program entry: stack config -> validated spec -> cluster plan -> platform component -> smoke test.
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { loadStackConfig } from "./config/load";
import { planCluster } from "./plan/plan";
import { RedisDockerCluster } from "./components/dockerCluster";

// Throws one error naming every bad setting before any resource is declared.
const { spec, password: configuredPassword } = loadStackConfig();
const plan = planCluster(spec);

// A generated password is still a secret: random's `result` is secret in state and outputs.
const password: pulumi.Output<string> =
  configuredPassword ??
  new random.RandomPassword(`${spec.name}-password`, { length: 32, special: false }).result;

let outputs: Record<string, unknown> = {};
if (spec.platform === "docker") {
  const cluster = new RedisDockerCluster(spec.name, { spec, plan, password });
  outputs = {
    network: cluster.networkName,
    nodes: cluster.nodes,
    seeds: cluster.seeds,
    hostSeeds: cluster.hostSeeds,
    natMap: cluster.natMap,
    bootstrapExitCode: cluster.bootstrapExitCode,
    prometheusUrl: cluster.prometheusUrl,
  };
} else {
  throw new pulumi.RunError("platform kubernetes: the RedisKubernetesCluster component is not wired yet");
}

export const platform = spec.platform;
export const masters = spec.masters;
export const replicasPerMaster = spec.replicasPerMaster;
export const network = outputs.network;
export const nodes = outputs.nodes;
export const seeds = outputs.seeds;
export const hostSeeds = outputs.hostSeeds;
export const natMap = outputs.natMap;
export const bootstrapExitCode = outputs.bootstrapExitCode;
export const prometheusUrl = outputs.prometheusUrl;
/** Secret: read with `pulumi stack output redisPassword --show-secrets`. */
export const redisPassword = pulumi.secret(password);
