// A temporary server started by a process that is then SIGKILLed by the test (the restore dying mid-shard).
import { startTempServer } from "../../../infra/backup/tempServer";

void startTempServer(process.env.HELD_RDB!, process.env.HELD_WORK_DIR!).then((t) => {
  process.stdout.write(`LOADED ${t.loaded}\n`);
  setTimeout(() => undefined, 120_000);
});
