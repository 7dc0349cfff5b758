import { TLS_CLIENT_FILES } from "../../plan/tls";
import type { ScaleStepKubernetesArgs } from "../scaleStep";
import type { ClusterContext, PodRefs } from "./context";
import { PASSWORD_KEY } from "./secrets";
import { tlsEnvOf, tlsMounts, tlsVolumes } from "./volumes";

/** The scale step's Jobs (phases in and out): admin's password, the client label and certificate. */
export function scaleJobArgs(cx: ClusterContext, refs: PodRefs): Omit<ScaleStepKubernetesArgs, "bundle"> {
  return {
    namespace: cx.namespace,
    secretName: refs.secretName,
    secretKey: PASSWORD_KEY,
    labels: { ...cx.labels.of("scale"), [cx.spec.kubernetes.clientLabel]: "true" },
    volumes: tlsVolumes(refs, "client", "tls-client"),
    volumeMounts: tlsMounts(refs, "tls-client", TLS_CLIENT_FILES.dir),
    env: [
      ...tlsEnvOf(refs, TLS_CLIENT_FILES),
      // The Job connects to the pod IPs CLUSTER NODES gives, which no certificate names: the chain is checked, not the name.
      ...(refs.tls ? [{ name: "REDIS_TLS_VERIFY_HOSTNAME", value: "no" }] : []),
      ...(refs.aclSecretName !== undefined ? [{ name: "REDIS_USER", value: "admin" }] : []),
    ],
  };
}
