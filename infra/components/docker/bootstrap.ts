import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { CONTAINER_PATHS } from "../../plan/plan";
import { BOOTSTRAP_EXIT_ENV } from "../smokeTest";
import { PASSWORD_FILE, adminClient, dockerEnvs, type DockerClusterContext } from "./context";
import { exitCheck, oneShot } from "./oneShot";

/**
 * The one-shot bootstrap: runs the shared bootstrap script on the cluster network after every node is healthy, and its
 * check, which everything after the bootstrap (scale out, monitoring, smoke test) waits for. Its inputs change with the
 * plan, so it re-runs (and re-verifies) whenever the cluster definition changes.
 */
export function bootstrap(cx: DockerClusterContext, dependsOn: pulumi.Resource[]) {
  const { plan, spec } = cx;
  // The nodes' definition as a hash: when the nodes change (and are replaced), the bootstrap re-runs and re-verifies.
  const nodesDefinition = createHash("sha256").update(JSON.stringify([plan.redisConf, plan.entrypointScript, plan.nodes])).digest("hex");
  const client = adminClient(cx);
  const step = oneShot(cx, {
    step: "bootstrap",
    // Outer limit: the script bounds itself by BOOTSTRAP_TIMEOUT; `timeout` (coreutils) kills it should anything still hang, so `pulumi up` never does.
    entrypoints: ["timeout", "-s", "KILL", String(Number(plan.bootstrapEnv.BOOTSTRAP_TIMEOUT) + 60), "sh", CONTAINER_PATHS.bootstrap],
    envs: [`REDIS_PASSWORD_FILE=${PASSWORD_FILE}`, ...dockerEnvs(plan.bootstrapEnv), `NODES_DEFINITION_SHA256=${nodesDefinition}`, "REDIS_SCALE_STEP=1", ...client.envs],
    scripts: ["bootstrap"],
    uploads: client.uploads,
    dependsOn,
  });
  // A non-zero code fails `pulumi up`, saying where the diagnosis is and how to re-run the bootstrap.
  const check = exitCheck(cx, "bootstrap-check", step, `bootstrap of ${spec.name}`, {
    env: BOOTSTRAP_EXIT_ENV,
    hint: pulumi.interpolate`. After fixing the cause, run it again with: pulumi up -s ${pulumi.getStack()} --replace '${step.container.urn}'`,
  });
  return { exitCode: step.exitCode, check };
}
