// The command line of a CLI of this repository run on the Pulumi host through tsx (the Docker platform's smoke,
// scale, backup and restore steps): local.Command runs it with /bin/sh in the project directory.
import * as pulumi from "@pulumi/pulumi";

/** One shell word: left bare when it is safe, else single-quoted. */
export const shellQuote = (a: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** `npx --no-install tsx <entry> <args…>`, quoted for /bin/sh. */
export const tsxCommand = (entry: string, args: string[]) => ["npx", "--no-install", "tsx", entry, ...args].map(shellQuote).join(" ");

/** The client certificate's PEMs in a host command's environment (smoke/tls.ts reads them); the key as a secret input. */
export const tlsPemEnv = (pem: { ca: pulumi.Input<string>; cert: pulumi.Input<string>; key: pulumi.Input<string> }): Record<string, pulumi.Input<string>> => ({
  REDIS_TLS_CA_PEM: pem.ca,
  REDIS_TLS_CERT_PEM: pem.cert,
  REDIS_TLS_KEY_PEM: pulumi.secret(pem.key),
});
