import { readFileSync } from "node:fs";
import { join } from "node:path";

// Kubernetes-only scripts, shipped as files like the shared ones (shellcheck and the tests run exactly these).
const dir = join(__dirname, "..", "..", "scripts");

export const kubernetesScriptPaths = {
  /** Entrypoint hook: rewrites own and peer addresses in nodes.conf from the pods' stable DNS names. */
  refreshPeers: join(dir, "refresh-peers.sh"),
  /** preStop: a master hands over to its most up-to-date replica. */
  prestop: join(dir, "prestop.sh"),
  /** Startup/liveness (`alive`) and readiness (`ready`) probe. */
  probe: join(dir, "probe.sh"),
} as const;

export function readKubernetesScript(name: keyof typeof kubernetesScriptPaths): string {
  return readFileSync(kubernetesScriptPaths[name], "utf8");
}
