// The cluster DNS of the pods: an /etc/hosts the runner writes and bind-mounts into every container, beside a
// resolv.conf pointing at nothing, so a name not in the file does not resolve (a pod can be made absent from DNS).
// The outside client's external zone is the same pair of files (./outsideClient.ts).
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export class ClusterDns {
  readonly hostsFile: string;
  readonly resolvFile: string;
  private last = "";

  /** Creates both files in `dir`. */
  constructor(dir: string) {
    this.hostsFile = join(dir, "hosts");
    this.resolvFile = join(dir, "resolv.conf");
    writeFileSync(this.hostsFile, "127.0.0.1 localhost\n");
    // Nothing listens on the pod's own loopback port 53: a name not in /etc/hosts fails at once and no query leaves.
    writeFileSync(this.resolvFile, "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n");
    chmodSync(this.hostsFile, 0o644);
    chmodSync(this.resolvFile, 0o644);
  }

  /** Publishes exactly these records ([ip, name]); a no-op when nothing changed. */
  publish(records: [ip: string, name: string][]): void {
    const text = `${["127.0.0.1 localhost", ...records.map(([ip, name]) => `${ip} ${name}`)].join("\n")}\n`;
    if (text === this.last) return;
    this.last = text;
    // In place (same inode): the file is bind-mounted into every container.
    writeFileSync(this.hostsFile, text);
  }
}
