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
 */
export function tlsFromEnv(env: NodeJS.ProcessEnv): TlsClientOptions | undefined {
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
    ...(env.REDIS_TLS_VERIFY_HOSTNAME === "no" ? { verifyHostname: false } : {}),
  };
}
