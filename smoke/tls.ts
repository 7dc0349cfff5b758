// TLS options of every smoke/load connection, and where the CLI reads them from (files named by the environment,
// the same REDIS_TLS_* names the shell scripts use).
import { readFileSync } from "node:fs";
import type { ConnectionOptions } from "node:tls";
import type { TlsClientOptions } from "./types";

/** Node `tls.connect` options of a TLS client (ioredis `tls`, the load generator); undefined without TLS. */
export function tlsConnectOptions(t: TlsClientOptions | undefined): ConnectionOptions | undefined {
  if (!t) return undefined;
  return { ca: t.ca, cert: t.cert, key: t.key, ...(t.verifyHostname === false ? { checkServerIdentity: () => undefined } : {}) };
}

/**
 * TLS from REDIS_TLS_CA_FILE (on when set and non-empty), REDIS_TLS_CERT_FILE / REDIS_TLS_KEY_FILE (client certificate)
 * and REDIS_TLS_VERIFY_HOSTNAME=no (chain only). Throws naming the variable whose file cannot be read.
 * REDIS_TLS_CA_PEM / REDIS_TLS_CERT_PEM / REDIS_TLS_KEY_PEM give the PEM text itself instead (the Docker smoke step on
 * the Pulumi host: the key stays in the command's environment, never in a file or on argv).
 */
export function tlsFromEnv(env: NodeJS.ProcessEnv): TlsClientOptions | undefined {
  const verify = env.REDIS_TLS_VERIFY_HOSTNAME === "no" ? { verifyHostname: false } : {};
  if (env.REDIS_TLS_CA_PEM) {
    return { ca: env.REDIS_TLS_CA_PEM, ...(env.REDIS_TLS_CERT_PEM ? { cert: env.REDIS_TLS_CERT_PEM, key: env.REDIS_TLS_KEY_PEM } : {}), ...verify };
  }
  if (!env.REDIS_TLS_CA_FILE) return undefined;
  const read = (name: string) => {
    try {
      return readFileSync(env[name]!, "utf8");
    } catch (e) {
      throw new Error(`cannot read ${env[name]} (${name}): ${(e as Error).message}`);
    }
  };
  if (!!env.REDIS_TLS_CERT_FILE !== !!env.REDIS_TLS_KEY_FILE) throw new Error("REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE must be set together");
  return {
    ca: read("REDIS_TLS_CA_FILE"),
    ...(env.REDIS_TLS_CERT_FILE ? { cert: read("REDIS_TLS_CERT_FILE"), key: read("REDIS_TLS_KEY_FILE") } : {}),
    ...verify,
  };
}
