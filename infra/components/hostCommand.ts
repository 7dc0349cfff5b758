// The command line of a CLI of this repository run on the Pulumi host through tsx (the Docker platform's smoke,
// scale, backup and restore steps): local.Command runs it with /bin/sh in the project directory.

/** One shell word: left bare when it is safe, else single-quoted. */
export const shellQuote = (a: string) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);

/** `npx --no-install tsx <entry> <args…>`, quoted for /bin/sh. */
export const tsxCommand = (entry: string, args: string[]) => ["npx", "--no-install", "tsx", entry, ...args].map(shellQuote).join(" ");
