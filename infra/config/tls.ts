import { z } from "zod";

// Settings of the `tls` stack-config object: TLS on the client port, the cluster bus and replication (issue #12).
export const tlsSchema = z
  .object({
    enabled: z.boolean().optional()
      .describe("TLS on every channel: client port (port 0, tls-port), cluster bus (tls-cluster) and replication (tls-replication). Default: on for kubernetes, off for docker (dev)"),
    // Default optional: every client already authenticates with a password (ACL), and a required client certificate
    // would force each application to obtain one from this cluster's private CA. The cluster bus always requires a
    // certificate from the CA whatever this says (Redis accepts bus connections with client auth on).
    authClients: z.enum(["yes", "no", "optional"]).default("optional")
      .describe("tls-auth-clients on the client port: yes (client certificate from the cluster's CA required), optional (verified when presented), no. The cluster bus always requires one"),
    certValidityDays: z.int().min(2).max(3650).default(365)
      .describe("Validity of the CA-signed node and client certificates made by @pulumi/tls; `pulumi up` re-issues them in the last third of that time (docs/runbooks.md, Renew the TLS certificates)"),
  })
  .strict();

export type TlsConfig = z.infer<typeof tlsSchema>;

/** The `tls` settings with the platform default applied. */
export interface TlsSpec {
  enabled: boolean;
  authClients: "yes" | "no" | "optional";
  certValidityDays: number;
}
