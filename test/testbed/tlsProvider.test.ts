// The local TLS provider (testbed/tlsProvider.ts) issues real keys and certificates through `openssl`: a CA and a node
// certificate it signs verify with `openssl verify`, carry the requested names and uses, and anything it does not
// implement is refused by name before any key is made.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Unemulated } from "../../testbed/refuse";
import { applyTls, TLS_TYPES } from "../../testbed/tlsProvider";

const [KEY, SELF, CSR, SIGNED] = TLS_TYPES;

test("a CA and a node certificate it signs: openssl verifies the chain, the SANs and uses are there", async () => {
  const caKey = await applyTls({ type: KEY, name: "ca-key", inputs: { algorithm: "ECDSA", ecdsaCurve: "P256" } });
  assert.match(caKey.outputs.privateKeyPem, /^-----BEGIN EC PRIVATE KEY-----/);
  assert.match(caKey.outputs.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
  assert.match(caKey.outputs.publicKeyOpenssh, /^ecdsa-sha2-nistp256 AAAA\S+\n$/);
  assert.match(caKey.outputs.publicKeyFingerprintSha256, /^SHA256:[A-Za-z0-9+/]{43}$/);
  const ca = await applyTls({
    type: SELF, name: "ca",
    inputs: {
      privateKeyPem: caKey.outputs.privateKeyPem, isCaCertificate: true, subject: { commonName: "t CA", organization: "redis-cluster" },
      validityPeriodHours: 87600, allowedUses: ["cert_signing", "crl_signing", "digital_signature"],
    },
  });
  const key = await applyTls({ type: KEY, name: "k", inputs: { algorithm: "ECDSA", ecdsaCurve: "P256" } });
  const csr = await applyTls({
    type: CSR, name: "csr",
    inputs: { privateKeyPem: key.outputs.privateKeyPem, subject: { commonName: "node-0", organization: "redis-cluster" }, dnsNames: ["node-0", "localhost"], ipAddresses: ["127.0.0.1", "172.31.5.11"] },
  });
  assert.match(csr.outputs.certRequestPem, /^-----BEGIN CERTIFICATE REQUEST-----/);
  const before = Date.now();
  const signedInputs = {
    certRequestPem: csr.outputs.certRequestPem, caPrivateKeyPem: caKey.outputs.privateKeyPem, caCertPem: ca.outputs.certPem,
    validityPeriodHours: 48, earlyRenewalHours: 16, allowedUses: ["digital_signature", "key_encipherment", "server_auth", "client_auth"],
  };
  const cert = await applyTls({ type: SIGNED, name: "cert", inputs: signedInputs });

  const dir = mkdtempSync(join(tmpdir(), "tlsprov-test-"));
  try {
    writeFileSync(join(dir, "ca.crt"), ca.outputs.certPem);
    writeFileSync(join(dir, "node.crt"), cert.outputs.certPem);
    const verified = execFileSync("openssl", ["verify", "-purpose", "sslserver", "-CAfile", join(dir, "ca.crt"), join(dir, "node.crt")], { encoding: "utf8" });
    assert.match(verified, /node\.crt: OK/);
    execFileSync("openssl", ["verify", "-purpose", "sslclient", "-CAfile", join(dir, "ca.crt"), join(dir, "node.crt")]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const x = new X509Certificate(cert.outputs.certPem);
  assert.equal(x.subjectAltName, "DNS:node-0, DNS:localhost, IP Address:127.0.0.1, IP Address:172.31.5.11");
  assert.equal(x.subject, "O=redis-cluster\nCN=node-0");
  assert.ok(x.checkPrivateKey(createPrivateKey(key.outputs.privateKeyPem)), "the certificate is for the requested key");
  assert.ok(x.checkIssued(new X509Certificate(ca.outputs.certPem)));
  assert.equal(x.ca, false);
  assert.equal(new X509Certificate(ca.outputs.certPem).ca, true);
  // The provider's computed outputs: times to the second (RFC 3339), validity exactly as asked, serial as the id.
  const start = Date.parse(cert.outputs.validityStartTime);
  assert.ok(Math.abs(start - before) < 60_000, `start ${cert.outputs.validityStartTime}`);
  assert.equal(Date.parse(cert.outputs.validityEndTime) - start, 48 * 3600_000);
  assert.equal(cert.outputs.readyForRenewal, false);
  assert.equal(cert.id, BigInt(`0x${x.serialNumber}`).toString());
  assert.equal(cert.outputs.caKeyAlgorithm, "ECDSA");

  // earlyRenewalHours alone changes in place (same certificate), and past the renewal point it is ready for renewal.
  const updated = await applyTls({ type: SIGNED, name: "cert", inputs: { ...signedInputs, earlyRenewalHours: 48 }, prior: cert });
  assert.equal(updated.id, cert.id);
  assert.equal(updated.outputs.certPem, cert.outputs.certPem);
  assert.equal(updated.outputs.readyForRenewal, true);
  const reissued = await applyTls({ type: SIGNED, name: "cert", inputs: { ...signedInputs, validityPeriodHours: 72 }, prior: cert });
  assert.notEqual(reissued.id, cert.id, "any other change is a new certificate");
});

test("what the provider does not implement is refused by name", async () => {
  await assert.rejects(applyTls({ type: KEY, name: "k", inputs: { algorithm: "ED25519" } }), /algorithm 'ED25519' is not implemented/);
  await assert.rejects(applyTls({ type: KEY, name: "k", inputs: { algorithm: "ECDSA", ecdsaCurve: "P256", rsaBits: 2048, pkcs: 1 } }), /PrivateKey k sets 'pkcs'/);
  await assert.rejects(applyTls({ type: KEY, name: "k", inputs: { algorithm: "RSA", pkcs: 1 } }), Unemulated, "the testbed's one refusal (testbed/refuse.ts)");
  await assert.rejects(applyTls({ type: CSR, name: "r", inputs: { privateKeyPem: "x", uris: ["spiffe://a"] } }), /CertRequest r sets 'uris'/);
  await assert.rejects(applyTls({ type: CSR, name: "r", inputs: { privateKeyPem: "x", subject: { emailAddress: "a@b" } } }), /r subject sets 'emailAddress'/);
  await assert.rejects(applyTls({ type: SELF, name: "s", inputs: { privateKeyPem: "x", maxPathLength: 1 } }), /SelfSignedCert s sets 'maxPathLength'/);
  await assert.rejects(applyTls({ type: "tls:index/getCertificate:getCertificate", name: "g", inputs: {} }), /is not implemented/);
  const k = await applyTls({ type: KEY, name: "k", inputs: { algorithm: "RSA", rsaBits: 2048 } });
  await assert.rejects(
    applyTls({ type: SELF, name: "s", inputs: { privateKeyPem: k.outputs.privateKeyPem, validityPeriodHours: 1, allowedUses: ["ipsec_user"] } }),
    /allowedUses 'ipsec_user' not implemented/,
  );
});
