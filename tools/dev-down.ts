// `npm run dev:down`: destroys a dev stack (`pulumi destroy --yes -s <stack>`) behind the
// stack guard, so a prod or Kubernetes stack is never torn down by this path.
//   npm run dev:down                                  # destroy stack "dev"
//   npm run dev:down -- --stack dev-alice --remove    # destroy, then `pulumi stack rm`
//   npm run dev:down -- --older-than-hours 72         # every dev* stack not updated for 72 h
//   npm run dev:down -- --dry-run                     # print the commands only
// Exit codes: 0 done, 2 usage, 3 refused by the guard, 127 pulumi CLI missing, else pulumi's own code.
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { EXIT_REFUSED, guardStack, isProdName, shortStackName } from "./stack-guard";

export const EXIT_NO_PULUMI = 127;
const INSTALL_HINT =
  "pulumi CLI not found on PATH. Install it (https://www.pulumi.com/docs/install/): curl -fsSL https://get.pulumi.com | sh";

export interface StackSummary {
  name: string;
  lastUpdate?: string;
  updateInProgress?: boolean;
  resourceCount?: number;
}

/** The destroy (and optional remove) commands for one stack; argv only, never a shell string. */
export function teardownCommands(stack: string, remove: boolean): string[][] {
  const cmds = [["pulumi", "destroy", "--yes", "--stack", stack]];
  // No --force: `stack rm` then refuses when resources survived the destroy.
  if (remove) cmds.push(["pulumi", "stack", "rm", "--yes", "--stack", stack]);
  return cmds;
}

/** Dev stacks (dev, dev-*, dev_*) last updated before `now - hours`. */
export function staleDevStacks(stacks: StackSummary[], hours: number, now: Date): { stale: string[]; skipped: string[] } {
  const cutoff = now.getTime() - hours * 3_600_000;
  const stale: string[] = [];
  const skipped: string[] = [];
  for (const s of stacks) {
    const short = shortStackName(s.name);
    if (!/^dev([-_.].+)?$/.test(short) || isProdName(s.name)) continue;
    const t = s.lastUpdate ? Date.parse(s.lastUpdate) : NaN;
    if (s.updateInProgress) skipped.push(`${s.name}: update in progress`);
    else if (Number.isNaN(t)) skipped.push(`${s.name}: no last update time`);
    else if (t < cutoff) stale.push(s.name);
  }
  return { stale, skipped };
}

function quote(argv: string[]): string {
  return argv.map((a) => (/^[\w./:=@-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(" ");
}

class PulumiMissing extends Error {}

/** Runs pulumi without a shell. Inherit stdio for destroy; capture for read-only queries. */
function pulumi(args: string[], cwd: string, capture: boolean): { status: number; stdout: string } {
  const r = spawnSync("pulumi", args, {
    cwd,
    stdio: capture ? ["ignore", "pipe", "inherit"] : "inherit",
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) {
    if ((r.error as NodeJS.ErrnoException).code === "ENOENT") throw new PulumiMissing(INSTALL_HINT);
    throw r.error;
  }
  return { status: r.status ?? 1, stdout: r.stdout ?? "" };
}

interface Options {
  stack: string;
  cwd: string;
  dryRun: boolean;
  remove: boolean;
  olderThanHours?: number;
}

function refuse(stack: string, reasons: string[]): number {
  console.error(`dev-down: REFUSED to destroy stack "${stack}":`);
  for (const r of reasons) console.error(`  - ${r}`);
  console.error("dev-down only tears down dev stacks on Docker; production is never destroyed by this script.");
  return EXIT_REFUSED;
}

/** Guard + destroy one stack. Returns the exit code. */
function teardown(stack: string, o: Options): number {
  // Name and config first: a prod stack is refused before pulumi is even called.
  const pre = guardStack({ stack, projectDir: o.cwd });
  if (pre.reasons.length > 0) return refuse(stack, pre.reasons);
  if (o.dryRun) {
    for (const argv of teardownCommands(stack, o.remove)) console.log(quote(argv));
    if (pre.needsState) console.log(`# ${pre.platform.source}: a real run first checks the state of "${stack}" for Kubernetes resources`);
    return 0;
  }
  // The deployed state is the last line of defence when config files are missing or wrong.
  const exp = pulumi(["stack", "export", "--stack", stack], o.cwd, true);
  if (exp.status !== 0) {
    console.error(`dev-down: cannot read the state of stack "${stack}" (pulumi stack export exited ${exp.status}); nothing destroyed`);
    return exp.status;
  }
  let state: unknown;
  try {
    state = JSON.parse(exp.stdout) as unknown;
  } catch {
    console.error(`dev-down: pulumi stack export for "${stack}" did not print JSON; nothing destroyed`);
    return 1;
  }
  const post = guardStack({ stack, projectDir: o.cwd, state });
  if (!post.allowed) return refuse(stack, post.reasons);
  for (const argv of teardownCommands(stack, o.remove)) {
    console.error(`dev-down: ${quote(argv)}`);
    const r = pulumi(argv.slice(1), o.cwd, false);
    if (r.status !== 0) {
      console.error(`dev-down: ${argv.slice(0, 3).join(" ")} exited ${r.status}`);
      return r.status;
    }
  }
  return 0;
}

function run(o: Options): number {
  if (o.olderThanHours === undefined) return teardown(o.stack, o);
  const ls = pulumi(["stack", "ls", "--json"], o.cwd, true);
  if (ls.status !== 0) return ls.status;
  const { stale, skipped } = staleDevStacks(JSON.parse(ls.stdout) as StackSummary[], o.olderThanHours, new Date());
  for (const s of skipped) console.error(`dev-down: skipped ${s}`);
  if (stale.length === 0) console.error(`dev-down: no dev stack older than ${o.olderThanHours} h`);
  let worst = 0;
  for (const s of stale) {
    const code = teardown(s, o);
    if (code !== 0 && worst === 0) worst = code; // keep going: one bad stack must not shield the others
  }
  return worst;
}

function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError("must be a number >= 0");
  return n;
}

export function main(argv: string[]): number {
  const program = new Command()
    .name("dev-down")
    .description("Destroy a dev stack (pulumi destroy --yes); refuses prod and Kubernetes stacks")
    .option("-s, --stack <name>", "stack to destroy", "dev")
    .option("--older-than-hours <h>", "instead of --stack: every dev stack not updated for this many hours", positiveNumber)
    .option("--remove", "also remove the stack (pulumi stack rm) after the destroy", false)
    .option("--dry-run", "print the commands instead of running them", false)
    .option("-C, --cwd <dir>", "Pulumi project directory", process.cwd())
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: "user" });
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    return code === 0 ? 0 : 2;
  }
  const raw = program.opts<{ stack: string; olderThanHours?: number; remove: boolean; dryRun: boolean; cwd: string }>();
  try {
    return run({ ...raw, cwd: resolve(raw.cwd) });
  } catch (e) {
    if (e instanceof PulumiMissing) {
      console.error(`dev-down: ${e.message}`);
      return EXIT_NO_PULUMI;
    }
    throw e;
  }
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
