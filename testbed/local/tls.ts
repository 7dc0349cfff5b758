// Test certificates for a local TLS cluster, made with the `openssl` CLI: a throw-away CA and one certificate per node
// with the names of infra/plan/tlsCertificates.ts (what @pulumi/tls or cert-manager issue on the real platforms).
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Sans } from "../../infra/plan/tlsCertificates";

export interface IssuedFiles {
  cert: string;
  key: string;
}

/** Fails with install instructions when openssl is missing (never a silent skip). */
export function requireOpenssl(): void {
  const r = spawnSync("openssl", ["version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) throw new Error("openssl is not installed: run `npm run setup:system` (Debian: apt-get install openssl)");
}

function openssl(args: string[], cwd: string): void {
  const r = spawnSync("openssl", args, { cwd, encoding: "utf8", timeout: 20_000 });
  if (r.error || r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.error?.message ?? r.stderr}`);
}

/** A private CA in `dir` (P-256 keys: quick to make, accepted by Redis, redis-cli, Node and Go). */
export class TestCa {
  readonly cert: string;
  private readonly key: string;
  private serial = 0;

  constructor(readonly dir: string, readonly name = "redis-cluster-test-ca", days = 2) {
    requireOpenssl();
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.cert = join(dir, "ca.crt");
    this.key = join(dir, "ca.key");
    openssl(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", this.key, "-out", this.cert,
      "-days", String(days), "-subj", `/CN=${name}`, "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
    chmodSync(this.key, 0o600);
  }

  /** Issues `<base>.crt`/`<base>.key` (overwriting: a renewal writes the same paths); server+client usage when sans are given. */
  issue(base: string, commonName: string, sans?: Sans, days = 2): IssuedFiles {
    const files = { cert: join(this.dir, `${base}.crt`), key: join(this.dir, `${base}.key`) };
    const csr = join(this.dir, `${base}.csr`);
    const ext = join(this.dir, `${base}.ext`);
    const names = sans ? [...sans.dnsNames.map((d) => `DNS:${d}`), ...sans.ipAddresses.map((i) => `IP:${i}`)] : [];
    writeFileSync(ext, [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature,keyEncipherment",
      `extendedKeyUsage=${sans ? "serverAuth,clientAuth" : "clientAuth"}`,
      ...(names.length ? [`subjectAltName=${names.join(",")}`] : []),
      "",
    ].join("\n"));
    // Write to new names first and rename: a node re-reading its files never sees a half-written pair.
    openssl(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", `${files.key}.new`, "-out", csr, "-subj", `/CN=${commonName}`], this.dir);
    openssl(["x509", "-req", "-in", csr, "-CA", this.cert, "-CAkey", this.key, "-set_serial", String(Date.now() * 1000 + ++this.serial),
      "-days", String(days), "-extfile", ext, "-out", `${files.cert}.new`], this.dir);
    chmodSync(`${files.key}.new`, 0o600);
    renameSync(`${files.key}.new`, files.key);
    renameSync(`${files.cert}.new`, files.cert);
    return files;
  }
}
