// One `pulumi up` of the program against a private Docker engine (see stack.ts); started by upInChild.
// Arguments as JSON in REDIS_CLUSTER_UP_ARGS; progress lines on stdout, the result as one "UP-RESULT {json}" line.
import { up, RESULT_PREFIX, type UpArgs } from "./stack";

const args = JSON.parse(process.env.REDIS_CLUSTER_UP_ARGS ?? "null") as UpArgs | null;
if (!args) {
  console.error("up.ts: REDIS_CLUSTER_UP_ARGS is not set (start it through upInChild in local/docker/stack.ts)");
  process.exit(2);
}
const since = Date.now();
const line = (l: string) => console.log(`[${((Date.now() - since) / 1000).toFixed(1).padStart(5)} s] ${l}`);
up(args, { log: line, commandOutput: (l) => line(`  smoke | ${l}`) }).then(
  (r) => {
    console.log(RESULT_PREFIX + JSON.stringify(r));
    process.exit(0);
  },
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
