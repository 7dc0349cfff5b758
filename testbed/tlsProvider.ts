// Applies the `tls:*` resources the program registers (@pulumi/tls: PrivateKey, SelfSignedCert, CertRequest,
// LocallySignedCert) for real, as the Pulumi TLS provider would, so the Docker dev stack and the pods runner get real
// keys and certificates with TLS on. Keys come from Node's crypto; certificate requests and certificates from the
// `openssl` CLI (Debian package `openssl`, installed by scripts/install-system-deps.sh): `openssl ca` because it alone
// takes start and end times to the second (the provider's validity is in hours). Key material only ever goes to files
// in a private temporary directory, never onto argv. Every input it does not implement is refused by name.
// Outputs carry the provider's names and shapes, plain: the engine marks the provider's additionalSecretOutputs secret.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, X509Certificate, type KeyObject } from "node:crypto";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { refuseUnknown } from "./refuse";

export const TLS_TYPES: readonly string[] = [
  "tls:index/privateKey:PrivateKey",
  "tls:index/selfSignedCert:SelfSignedCert",
  "tls:index/certRequest:CertRequest",
  "tls:index/locallySignedCert:LocallySignedCert",
];

export interface TlsStep {
  type: string;
  name: string;
  /** Plain inputs (secrets unwrapped). */
  inputs: Record<string, any>;
  /** The resource as it exists, for an update (only earlyRenewalHours changes in place, as in the provider). */
  prior?: { id: string; outputs: Record<string, any> };
}

const KEYS: Record<string, readonly string[]> = {
  "tls:index/privateKey:PrivateKey": ["algorithm", "ecdsaCurve", "rsaBits"],
  "tls:index/selfSignedCert:SelfSignedCert": [
    "privateKeyPem", "subject", "validityPeriodHours", "allowedUses", "isCaCertificate", "earlyRenewalHours", "dnsNames", "ipAddresses", "setSubjectKeyId",
  ],
  "tls:index/certRequest:CertRequest": ["privateKeyPem", "subject", "dnsNames", "ipAddresses"],
  "tls:index/locallySignedCert:LocallySignedCert": [
    "certRequestPem", "caPrivateKeyPem", "caCertPem", "validityPeriodHours", "allowedUses", "isCaCertificate", "earlyRenewalHours", "setSubjectKeyId",
  ],
};
/** The provider's defaults of optional inputs (as its outputs report them). */
const CERT_DEFAULTS = { allowedUses: [], isCaCertificate: false, setSubjectKeyId: false, earlyRenewalHours: 0 };
const DEFAULTS: Record<string, Record<string, unknown>> = {
  "tls:index/privateKey:PrivateKey": { ecdsaCurve: "P224", rsaBits: 2048 },
  "tls:index/selfSignedCert:SelfSignedCert": CERT_DEFAULTS,
  "tls:index/locallySignedCert:LocallySignedCert": CERT_DEFAULTS,
};
/** Inputs the provider updates in place; any other change is a new resource. */
export const TLS_IN_PLACE: readonly string[] = ["earlyRenewalHours"];
const SUBJECT_KEYS = ["commonName", "organization", "organizationalUnit", "country", "province", "locality", "postalCode", "streetAddresses", "serialNumber"] as const;

/** Who refuses an argument it does not implement (testbed/refuse.ts). */
const PROVIDER = "TLS provider";

const sameValue = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

export async function applyTls(step: TlsStep): Promise<{ id: string; outputs: Record<string, any> }> {
  const known = KEYS[step.type];
  if (!known) throw new Error(`tlsProvider: resource type ${step.type} (${step.name}) is not implemented (known: ${TLS_TYPES.join(", ")})`);
  const inputs = step.inputs;
  refuseUnknown(PROVIDER, `${step.type.split(":").pop()} ${step.name}`, inputs, known);
  if (inputs.subject) refuseUnknown(PROVIDER, `${step.name} subject`, inputs.subject, SUBJECT_KEYS);

  // An update that touches only in-place fields keeps the key or certificate (the provider's behaviour).
  const withDefaults = { ...(DEFAULTS[step.type] ?? {}), ...Object.fromEntries(Object.entries(inputs).filter(([, v]) => v !== undefined && v !== null)) };
  if (step.prior && known.every((k) => TLS_IN_PLACE.includes(k) || sameValue(step.prior!.outputs[k], withDefaults[k]))) {
    const o: Record<string, any> = { ...step.prior.outputs, earlyRenewalHours: inputs.earlyRenewalHours ?? 0 };
    if ("validityEndTime" in o) o.readyForRenewal = readyForRenewal(o.validityEndTime, o.earlyRenewalHours);
    return { id: step.prior.id, outputs: o };
  }
  switch (step.type) {
    case "tls:index/privateKey:PrivateKey":
      return privateKey(step.name, inputs);
    case "tls:index/certRequest:CertRequest":
      return withDir((dir) => certRequest(dir, step.name, inputs));
    case "tls:index/selfSignedCert:SelfSignedCert":
      return withDir((dir) => selfSignedCert(dir, step.name, inputs));
    default:
      return withDir((dir) => locallySignedCert(dir, step.name, inputs));
  }
}

// ---- keys ------------------------------------------------------------------------------------------------------

const CURVES: Record<string, { node: string; ssh?: string; md: string }> = {
  P224: { node: "secp224r1", md: "sha256" }, // no SSH form: the provider leaves the OpenSSH outputs empty
  P256: { node: "prime256v1", ssh: "nistp256", md: "sha256" },
  P384: { node: "secp384r1", ssh: "nistp384", md: "sha384" },
  P521: { node: "secp521r1", ssh: "nistp521", md: "sha512" },
};

function privateKey(name: string, i: Record<string, any>): { id: string; outputs: Record<string, any> } {
  let key: KeyObject;
  const outputs: Record<string, any> = { algorithm: i.algorithm, ecdsaCurve: i.ecdsaCurve ?? "P224", rsaBits: i.rsaBits ?? 2048 };
  if (i.algorithm === "ECDSA") {
    const curve = CURVES[outputs.ecdsaCurve];
    if (!curve) throw new Error(`tlsProvider: PrivateKey ${name}: ecdsaCurve '${outputs.ecdsaCurve}' is not one of ${Object.keys(CURVES).join(", ")}`);
    key = generateKeyPairSync("ec", { namedCurve: curve.node }).privateKey;
  } else if (i.algorithm === "RSA") {
    key = generateKeyPairSync("rsa", { modulusLength: outputs.rsaBits }).privateKey;
  } else {
    throw new Error(`tlsProvider: PrivateKey ${name}: algorithm '${i.algorithm}' is not implemented (ECDSA, RSA)`);
  }
  const pub = createPublicKey(key);
  const ssh = sshForms(key);
  Object.assign(outputs, {
    // The provider's forms: SEC1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY"), PKCS#8 beside it, PKIX public key.
    privateKeyPem: key.export({ type: i.algorithm === "ECDSA" ? "sec1" : "pkcs1", format: "pem" }).toString(),
    privateKeyPemPkcs8: key.export({ type: "pkcs8", format: "pem" }).toString(),
    publicKeyPem: pub.export({ type: "spki", format: "pem" }).toString(),
    ...ssh,
  });
  return { id: createHash("sha1").update(pub.export({ type: "spki", format: "der" })).digest("hex"), outputs };
}

/** OpenSSH string and mpint encodings (RFC 4251). */
const sshString = (b: Buffer | string) => {
  const buf = Buffer.isBuffer(b) ? b : Buffer.from(b);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length);
  return Buffer.concat([len, buf]);
};
const sshMpint = (b64url: string) => {
  let b = Buffer.from(b64url, "base64url");
  while (b.length > 1 && b[0] === 0) b = b.subarray(1);
  return sshString(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
};

/** publicKeyOpenssh, privateKeyOpenssh and the fingerprints, as the provider gives them ("" where SSH has no form). */
function sshForms(key: KeyObject): Record<string, string> {
  const jwk = key.export({ format: "jwk" }) as Record<string, string>;
  let type: string;
  let pubFields: Buffer[];
  let privFields: Buffer[];
  if (jwk.kty === "EC") {
    const curve = Object.values(CURVES).find((c) => c.node === key.asymmetricKeyDetails?.namedCurve);
    if (!curve?.ssh) return { publicKeyOpenssh: "", privateKeyOpenssh: "", publicKeyFingerprintMd5: "", publicKeyFingerprintSha256: "" };
    type = `ecdsa-sha2-${curve.ssh}`;
    const point = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x, "base64url"), Buffer.from(jwk.y, "base64url")]);
    pubFields = [sshString(curve.ssh), sshString(point)];
    privFields = [...pubFields, sshMpint(jwk.d)];
  } else {
    type = "ssh-rsa";
    pubFields = [sshMpint(jwk.e), sshMpint(jwk.n)];
    // OpenSSH's RSA private order: n, e, d, iqmp, p, q.
    privFields = [sshMpint(jwk.n), sshMpint(jwk.e), sshMpint(jwk.d), sshMpint(jwk.qi), sshMpint(jwk.p), sshMpint(jwk.q)];
  }
  const blob = Buffer.concat([sshString(type), ...pubFields]);
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, sshString(type), ...privFields, sshString("")]);
  const pad: number[] = [];
  for (let n = 1; (priv.length + pad.length) % 8 !== 0; n++) pad.push(n);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const u32 = Buffer.alloc(4);
  u32.writeUInt32BE(1);
  const body = Buffer.concat([Buffer.from("openssh-key-v1\0"), sshString("none"), sshString("none"), sshString(""), u32, sshString(blob), sshString(priv)]);
  const lines = body.toString("base64").match(/.{1,70}/g) ?? [];
  const md5 = createHash("md5").update(blob).digest("hex").match(/../g)!.join(":");
  return {
    publicKeyOpenssh: `${type} ${blob.toString("base64")}\n`,
    privateKeyOpenssh: `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join("\n")}\n-----END OPENSSH PRIVATE KEY-----\n`,
    publicKeyFingerprintMd5: md5,
    publicKeyFingerprintSha256: `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`,
  };
}

// ---- openssl -----------------------------------------------------------------------------------------------------

async function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), "tls-provider-")); // mode 0700: key files inside are private
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function openssl(args: string[], dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // A hermetic config: nothing from the host's openssl.cnf is applied.
    const child = spawn("openssl", args, { cwd: dir, env: { PATH: process.env.PATH ?? "/usr/bin:/bin", OPENSSL_CONF: join(dir, "openssl.cnf") } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", (e) =>
      reject(new Error((e as NodeJS.ErrnoException).code === "ENOENT" ? "tlsProvider: the `openssl` CLI is missing; install it with `apt-get install openssl` (scripts/install-system-deps.sh)" : e.message)),
    );
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`tlsProvider: openssl ${args[0]} exited ${code}: ${out.trim().split("\n").slice(-3).join(" | ")}`));
    });
  });
}

const private0600 = (path: string, text: string) => writeFileSync(path, text, { mode: 0o600 });

/** -subj text in the provider's (Go pkix) attribute order; '/', '+' and '\' escaped. */
function subjectArg(s: Record<string, any> | undefined): string {
  const esc = (v: string) => String(v).replace(/[\\/+]/g, (c) => `\\${c}`);
  const parts: string[] = [];
  const add = (attr: string, v: unknown) => {
    for (const x of Array.isArray(v) ? v : v === undefined || v === null || v === "" ? [] : [v]) parts.push(`${attr}=${esc(String(x))}`);
  };
  add("C", s?.country);
  add("ST", s?.province);
  add("L", s?.locality);
  add("street", s?.streetAddresses);
  add("postalCode", s?.postalCode);
  add("O", s?.organization);
  add("OU", s?.organizationalUnit);
  add("CN", s?.commonName);
  add("serialNumber", s?.serialNumber);
  return parts.length ? `/${parts.join("/")}` : "/";
}

function keyAlgorithm(pem: string, what: string): { algorithm: "ECDSA" | "RSA"; md: string } {
  const k = createPrivateKey(pem);
  if (k.asymmetricKeyType === "ec") {
    const c = Object.values(CURVES).find((x) => x.node === k.asymmetricKeyDetails?.namedCurve);
    return { algorithm: "ECDSA", md: c?.md ?? "sha256" };
  }
  if (k.asymmetricKeyType === "rsa") return { algorithm: "RSA", md: "sha256" };
  throw new Error(`tlsProvider: ${what}: key type ${k.asymmetricKeyType} is not implemented (ECDSA, RSA)`);
}

function sanArg(dnsNames: string[] | undefined, ipAddresses: string[] | undefined): string[] {
  const sans = [...(dnsNames ?? []).map((d) => `DNS:${d}`), ...(ipAddresses ?? []).map((ip) => `IP:${ip}`)];
  return sans.length ? ["-addext", `subjectAltName=${sans.join(",")}`] : [];
}

async function makeCsr(dir: string, keyPem: string, i: Record<string, any>, what: string): Promise<{ pem: string; der: Buffer; algorithm: string }> {
  const { algorithm, md } = keyAlgorithm(keyPem, what);
  writeFileSync(join(dir, "openssl.cnf"), "[req]\ndistinguished_name = dn\n[dn]\n");
  private0600(join(dir, "req.key"), keyPem);
  await openssl(["req", "-new", "-utf8", `-${md}`, "-key", "req.key", "-subj", subjectArg(i.subject), ...sanArg(i.dnsNames, i.ipAddresses), "-out", "req.csr"], dir);
  const pem = readFileSync(join(dir, "req.csr"), "utf8");
  const der = Buffer.from(pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, ""), "base64");
  return { pem, der, algorithm };
}

async function certRequest(dir: string, name: string, i: Record<string, any>) {
  const csr = await makeCsr(dir, i.privateKeyPem, i, `CertRequest ${name}`);
  return {
    id: createHash("sha1").update(csr.der).digest("hex"),
    outputs: { ...i, keyAlgorithm: csr.algorithm, certRequestPem: csr.pem },
  };
}

const KEY_USAGE: Record<string, string> = {
  digital_signature: "digitalSignature", content_commitment: "nonRepudiation", key_encipherment: "keyEncipherment",
  data_encipherment: "dataEncipherment", key_agreement: "keyAgreement", cert_signing: "keyCertSign", crl_signing: "cRLSign",
  encipher_only: "encipherOnly", decipher_only: "decipherOnly",
};
const EXT_KEY_USAGE: Record<string, string> = {
  server_auth: "serverAuth", client_auth: "clientAuth", code_signing: "codeSigning", email_protection: "emailProtection",
  timestamping: "timeStamping", ocsp_signing: "OCSPSigning", any_extended: "anyExtendedKeyUsage",
};

/** The X.509v3 extensions the provider sets from its inputs (Go's x509: basicConstraints and keyUsage critical). */
function extensions(i: Record<string, any>, what: string, caHasKeyId: boolean): string {
  const uses: string[] = i.allowedUses ?? [];
  const unknown = uses.filter((u) => !(u in KEY_USAGE) && !(u in EXT_KEY_USAGE));
  if (unknown.length) throw new Error(`tlsProvider: ${what}: allowedUses ${unknown.map((u) => `'${u}'`).join(", ")} not implemented`);
  const ku = uses.filter((u) => u in KEY_USAGE).map((u) => KEY_USAGE[u]);
  const eku = uses.filter((u) => u in EXT_KEY_USAGE).map((u) => EXT_KEY_USAGE[u]);
  const lines = [`basicConstraints = critical,CA:${i.isCaCertificate ? "TRUE" : "FALSE"}`];
  if (ku.length) lines.push(`keyUsage = critical,${ku.join(",")}`);
  if (eku.length) lines.push(`extendedKeyUsage = ${eku.join(",")}`);
  // Go gives a CA certificate a subject key id by itself; others only with setSubjectKeyId. (OpenSSL 3 adds both key
  // ids unless told `none`.) The authority key id is the signer's subject key id, never on a self-signed certificate.
  lines.push(`subjectKeyIdentifier = ${i.isCaCertificate || i.setSubjectKeyId ? "hash" : "none"}`);
  lines.push(`authorityKeyIdentifier = ${caHasKeyId ? "keyid" : "none"}`);
  return lines.join("\n");
}

const asn1Time = (d: Date) => d.toISOString().replace(/[-:T]/g, "").replace(/\.\d+Z$/, "Z"); // YYYYMMDDHHMMSSZ
const rfc3339 = (d: Date) => d.toISOString().replace(/\.\d+Z$/, "Z");
function readyForRenewal(validityEndTime: string, earlyRenewalHours: number): boolean {
  return Date.now() >= Date.parse(validityEndTime) - (earlyRenewalHours ?? 0) * 3600_000;
}

/** Signs req.csr in `dir` with caKeyPem (and caCertPem; none: self-signed) through `openssl ca`. */
async function sign(dir: string, i: Record<string, any>, what: string, caKeyPem: string, caCertPem: string | undefined) {
  if (!(Number(i.validityPeriodHours) > 0)) throw new Error(`tlsProvider: ${what}: validityPeriodHours must be a positive number`);
  const { md } = keyAlgorithm(caKeyPem, `${what} CA key`);
  private0600(join(dir, "ca.key"), caKeyPem);
  if (caCertPem) writeFileSync(join(dir, "ca.crt"), caCertPem);
  const caHasKeyId = caCertPem ? hasSkid(caCertPem) : false;
  // The provider's serial: 128 random bits, positive.
  const serial = randomBytes(16);
  serial[0] &= 0x7f;
  writeFileSync(join(dir, "serial"), serial.toString("hex") + "\n");
  writeFileSync(join(dir, "index.txt"), "");
  writeFileSync(
    join(dir, "openssl.cnf"),
    [
      "[req]", "distinguished_name = dn", "[dn]",
      "[ca]", "default_ca = local_ca",
      "[local_ca]", `database = ${join(dir, "index.txt")}`, `serial = ${join(dir, "serial")}`, `new_certs_dir = ${dir}`,
      `default_md = ${md}`, "policy = any", "unique_subject = no", "email_in_dn = no",
      // The provider copies the request's names (SANs) into the certificate.
      "copy_extensions = copy",
      "[any]", "commonName = optional",
      "[ext]", extensions(i, what, caHasKeyId), "",
    ].join("\n"),
  );
  const notBefore = new Date(Math.floor(Date.now() / 1000) * 1000);
  const notAfter = new Date(notBefore.getTime() + Number(i.validityPeriodHours) * 3600_000);
  await openssl(
    [
      "ca", "-batch", "-notext", "-preserveDN", "-config", "openssl.cnf", "-extensions", "ext", "-md", md,
      "-keyfile", "ca.key", ...(caCertPem ? ["-cert", "ca.crt"] : ["-selfsign"]),
      "-startdate", asn1Time(notBefore), "-enddate", asn1Time(notAfter), "-in", "req.csr", "-out", "out.crt",
    ],
    dir,
  );
  const certPem = readFileSync(join(dir, "out.crt"), "utf8");
  const cert = new X509Certificate(certPem);
  const start = rfc3339(new Date(cert.validFrom));
  const end = rfc3339(new Date(cert.validTo));
  const earlyRenewalHours = i.earlyRenewalHours ?? 0;
  return {
    id: BigInt(`0x${cert.serialNumber}`).toString(),
    certPem: certPem.slice(certPem.indexOf("-----BEGIN")),
    validityStartTime: start,
    validityEndTime: end,
    earlyRenewalHours,
    readyForRenewal: readyForRenewal(end, earlyRenewalHours),
  };
}

function hasSkid(pem: string): boolean {
  // Node's X509Certificate has no extension accessor: look for the SKID OID (2.5.29.14) in the DER.
  const der = new X509Certificate(pem).raw;
  return der.includes(Buffer.from([0x06, 0x03, 0x55, 0x1d, 0x0e]));
}

async function selfSignedCert(dir: string, name: string, i: Record<string, any>) {
  const what = `SelfSignedCert ${name}`;
  const csr = await makeCsr(dir, i.privateKeyPem, i, what);
  const s = await sign(dir, i, what, i.privateKeyPem, undefined);
  return {
    id: s.id,
    outputs: {
      ...i, allowedUses: i.allowedUses ?? [], isCaCertificate: !!i.isCaCertificate, setSubjectKeyId: !!i.setSubjectKeyId, setAuthorityKeyId: false,
      maxPathLength: 0, keyAlgorithm: csr.algorithm, certPem: s.certPem, validityStartTime: s.validityStartTime, validityEndTime: s.validityEndTime,
      earlyRenewalHours: s.earlyRenewalHours, readyForRenewal: s.readyForRenewal,
    },
  };
}

async function locallySignedCert(dir: string, name: string, i: Record<string, any>) {
  const what = `LocallySignedCert ${name}`;
  writeFileSync(join(dir, "req.csr"), i.certRequestPem);
  const ca = keyAlgorithm(i.caPrivateKeyPem, `${what} CA key`);
  // The CA key must be the CA certificate's: openssl ca checks it too, this names the inputs.
  const caPub = createPublicKey(i.caPrivateKeyPem).export({ type: "spki", format: "der" });
  if (!caPub.equals(new X509Certificate(i.caCertPem).publicKey.export({ type: "spki", format: "der" }))) {
    throw new Error(`tlsProvider: ${what}: caPrivateKeyPem is not the key of caCertPem`);
  }
  const s = await sign(dir, i, what, i.caPrivateKeyPem, i.caCertPem);
  return {
    id: s.id,
    outputs: {
      ...i, allowedUses: i.allowedUses ?? [], isCaCertificate: !!i.isCaCertificate, setSubjectKeyId: !!i.setSubjectKeyId, maxPathLength: 0,
      caKeyAlgorithm: ca.algorithm, certPem: s.certPem, validityStartTime: s.validityStartTime, validityEndTime: s.validityEndTime,
      earlyRenewalHours: s.earlyRenewalHours, readyForRenewal: s.readyForRenewal,
    },
  };
}
