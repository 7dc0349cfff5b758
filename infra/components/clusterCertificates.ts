import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import * as k8s from "@pulumi/kubernetes";
import type { ClusterSpec } from "../config/schema";
import type { CertificateRequest } from "../plan/tlsCertificates";

/** PEM text of one issued certificate; `key` is always a secret output. */
export interface IssuedCertificate {
  cert: pulumi.Output<string>;
  key: pulumi.Output<string>;
  ca: pulumi.Output<string>;
}

export interface ClusterCertificatesArgs {
  spec: ClusterSpec;
  /** What to issue (infra/plan/tlsCertificates.ts, planCertificates). */
  requests: CertificateRequest[];
}

/** Hours of a certificate's life left when `pulumi up` re-issues it: the last third. */
export function earlyRenewalHours(validityDays: number): number {
  return Math.floor((validityDays * 24) / 3);
}

/**
 * The cluster's private CA and its certificates from @pulumi/tls: ECDSA P-256 keys (tls.PrivateKey, secret in state),
 * a self-signed CA (10 years) and one CA-signed certificate per request. Signed certificates are re-issued by
 * `pulumi up` in the last third of their validity (earlyRenewalHours); the CA is not (its renewal is a planned change,
 * docs/runbooks.md).
 */
export class ClusterCertificates extends pulumi.ComponentResource {
  declare readonly caCert: pulumi.Output<string>;
  readonly issued: Record<string, IssuedCertificate> = {};

  constructor(name: string, args: ClusterCertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-cluster:tls:ClusterCertificates", name, {}, opts);
    const { spec } = args;
    const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
    const ca = new tls.SelfSignedCert(
      `${name}-ca`,
      {
        privateKeyPem: caKey.privateKeyPem,
        isCaCertificate: true,
        subject: { commonName: `${spec.name} CA`, organization: "redis-cluster" },
        validityPeriodHours: 10 * 365 * 24,
        allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
      },
      { parent: this },
    );
    for (const r of args.requests) {
      const key = new tls.PrivateKey(`${name}-${r.id}-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this });
      const csr = new tls.CertRequest(
        `${name}-${r.id}-csr`,
        { privateKeyPem: key.privateKeyPem, subject: { commonName: r.commonName, organization: "redis-cluster" }, dnsNames: r.sans.dnsNames, ipAddresses: r.sans.ipAddresses },
        { parent: this },
      );
      const cert = new tls.LocallySignedCert(
        `${name}-${r.id}-cert`,
        {
          certRequestPem: csr.certRequestPem,
          caPrivateKeyPem: caKey.privateKeyPem,
          caCertPem: ca.certPem,
          validityPeriodHours: spec.tls.certValidityDays * 24,
          earlyRenewalHours: earlyRenewalHours(spec.tls.certValidityDays),
          allowedUses: ["digital_signature", "key_encipherment", ...r.usages],
        },
        { parent: this },
      );
      this.issued[r.id] = { cert: cert.certPem, key: pulumi.secret(key.privateKeyPem), ca: ca.certPem };
    }
    this.caCert = ca.certPem;
    this.registerOutputs({ caCert: this.caCert });
  }
}

/** cert-manager's issuerRef from `kubernetes.certManagerIssuer` ("name", "Issuer/name" or "ClusterIssuer/name"). */
export function certManagerIssuerRef(issuer: string): { name: string; kind: "Issuer" | "ClusterIssuer"; group: string } {
  const [kind, name] = issuer.includes("/") ? (issuer.split("/", 2) as ["Issuer" | "ClusterIssuer", string]) : (["Issuer", issuer] as const);
  return { name, kind, group: "cert-manager.io" };
}

export interface KubernetesTlsSecretsArgs {
  spec: ClusterSpec;
  requests: CertificateRequest[];
  namespace: pulumi.Input<string>;
  labels: Record<string, string>;
}

/**
 * The TLS Secrets the pods and Jobs mount (keys tls.crt, tls.key, ca.crt), one per certificate request. With
 * kubernetes.certManagerIssuer: cert-manager `Certificate`s write them (and renew them in place; Redis re-reads them on
 * `CONFIG SET tls-cert-file`, docs/runbooks.md). Otherwise: Secrets holding @pulumi/tls certificates, auto-named, so a
 * re-issued certificate is a new Secret name and the StatefulSet rolls one pod at a time onto it.
 */
export class KubernetesTlsSecrets extends pulumi.ComponentResource {
  /** Secret name per request id ("nodes", "client"). */
  readonly secretNames: Record<string, pulumi.Output<string>> = {};
  /** The CA certificate (PEM) from @pulumi/tls; undefined with cert-manager (it is in each Secret's ca.crt). */
  declare readonly caCert: pulumi.Output<string | undefined>;

  constructor(name: string, args: KubernetesTlsSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-cluster:kubernetes:TlsSecrets", name, {}, opts);
    const { spec } = args;
    const issuer = spec.kubernetes.certManagerIssuer;
    if (issuer) {
      for (const r of args.requests) {
        const secretName = `${spec.name}-tls-${r.id}`;
        new k8s.apiextensions.CustomResource(
          `${name}-${r.id}`,
          {
            apiVersion: "cert-manager.io/v1",
            kind: "Certificate",
            metadata: { name: secretName, namespace: args.namespace, labels: args.labels },
            spec: {
              secretName,
              commonName: r.commonName,
              dnsNames: r.sans.dnsNames.length ? r.sans.dnsNames : undefined,
              ipAddresses: r.sans.ipAddresses.length ? r.sans.ipAddresses : undefined,
              duration: `${spec.tls.certValidityDays * 24}h`,
              renewBefore: `${earlyRenewalHours(spec.tls.certValidityDays)}h`,
              privateKey: { algorithm: "ECDSA", size: 256, rotationPolicy: "Always" },
              usages: ["digital signature", "key encipherment", ...r.usages.map((u) => (u === "server_auth" ? "server auth" : "client auth"))],
              issuerRef: certManagerIssuerRef(issuer),
            },
          },
          { parent: this },
        );
        this.secretNames[r.id] = pulumi.output(secretName);
      }
      this.caCert = pulumi.output(undefined);
    } else {
      const certs = new ClusterCertificates(`${name}-certs`, { spec, requests: args.requests }, { parent: this });
      for (const r of args.requests) {
        const c = certs.issued[r.id];
        const secret = new k8s.core.v1.Secret(
          `${name}-${r.id}`,
          { metadata: { namespace: args.namespace, labels: args.labels }, type: "kubernetes.io/tls", stringData: { "tls.crt": c.cert, "tls.key": c.key, "ca.crt": c.ca } },
          { parent: this },
        );
        this.secretNames[r.id] = secret.metadata.name;
      }
      this.caCert = certs.caCert;
    }
    this.registerOutputs({ secretNames: this.secretNames, caCert: this.caCert });
  }
}
