import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import { CONTAINER_PATHS } from "../../plan/plan";
import type { ClusterCertificates } from "../clusterCertificates";
import { PASSWORD_FILE, adminClient, type DockerClusterContext } from "./context";
import { exitCheck, oneShot } from "./oneShot";

/**
 * tls.enabled: the nodes present certificates they loaded when they started. After new ones are in their volumes
 * (renewal: `pulumi up` re-issues them in the last third of their validity), tls-reload.sh makes every live node re-read
 * its files (CONFIG SET): no restart, open connections go on. It re-runs whenever a node certificate changes. Returns the
 * check the bootstrap waits for.
 */
export function tlsReload(cx: DockerClusterContext & { certs: ClusterCertificates }, dependsOn: pulumi.Resource[]): pulumi.Resource {
  const { certs, plan } = cx;
  const nodeCertsHash = pulumi.all(plan.nodes.map((n) => certs.issued[`node-${n.index}`].cert)).apply((pems) => createHash("sha256").update(pems.join("\n")).digest("hex"));
  const client = adminClient(cx);
  const step = oneShot(cx, {
    step: "tls-reload",
    entrypoints: ["sh", `${CONTAINER_PATHS.dir}/tls-reload.sh`],
    envs: [`REDIS_NODES=${plan.bootstrapEnv.REDIS_NODES}`, `REDIS_PASSWORD_FILE=${PASSWORD_FILE}`, ...client.envs, pulumi.interpolate`NODE_CERTIFICATES_SHA256=${nodeCertsHash}`],
    scripts: ["tlsReload"],
    uploads: client.uploads,
    dependsOn,
  });
  return exitCheck(cx, "tls-reload-check", step, "tls-reload.sh (nodes re-read their certificates)");
}
