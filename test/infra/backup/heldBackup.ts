// A backup that stops while every master is paused, as a child process for the test to SIGKILL there (a backup
// dying mid-cut). Options come as JSON in HELD_BACKUP (the cluster password in this child's environment only).
import { runBackup } from "../../../infra/backup/backup";
import type { BackupOptions } from "../../../infra/backup/options";

const o = JSON.parse(process.env.HELD_BACKUP ?? "{}") as BackupOptions;
void runBackup({
  ...o,
  log: (l) => process.stderr.write(`${l}\n`),
  onPaused: () => {
    process.stdout.write("PAUSED\n");
    // Held until killed (bounded: the test kills it long before).
    return new Promise((r) => setTimeout(r, 120_000));
  },
});
