// Issue 26's done-when on the pods runner: the prod program with kubernetes.externalAccess on (TLS and ACL users as
// committed) through Pulumi's own runtime; a client in its own network namespace, which reaches the pods only through
// the emulated load balancers and resolves <pod>.<domain> through the zone the Services' external-dns annotations
// publish, runs the smoke CLI (hostnames verified against the node certificates) with a kill failover, then after a
// scale-out 3x1 -> 4x1 and a scale-in back to 3x1 through `pulumi up`; a pod IP is not reachable from it; the
// program's own smoke Job (inside the pod network, sent the external names too) completes in every up. Teardown
// leaves nothing.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CpuLedger } from "../../testbed/pods/cpu";
import { leftoverFailures } from "../../testbed/pods/daemon";
import { PodsRunner, upOn, type UpResult } from "../../testbed/pods/runner";
import type { ConfigInput } from "../../testbed/engine/engine";
import { ProdCluster, STACK, STS, scenarioConfig } from "../../tools/pods/scenarios";
import type { SmokeReport } from "../../smoke/types";
import { ROOT, readStackFile } from "../helpers/stackConfig";

const DOMAIN = "redis.example.com";
/** The outside client's network (testbed/pods/outsideClient.ts OUTSIDE_NET). */
const SOURCE = "198.51.100.0/24";
/**
 * The runner's pod addresses (testbed/pods/ips.ts). In-cluster clients are sent the external names too, which
 * resolve to the load balancers; kube-proxy applies loadBalancerSourceRanges to pods reaching a load balancer's
 * address as well (so does the runner), so the pods' range is listed (podRanges) for them to get through; the
 * NetworkPolicy then admits them by the client label only.
 */
const POD_RANGE = "172.30.0.0/16";

const t0 = Date.now();
const log = (l: string) => process.env.PODS_LOG && console.error(`${((Date.now() - t0) / 1000).toFixed(1)} ${l}`);
const timings: Record<string, number> = {};
let runner: PodsRunner | undefined;
let ledger: CpuLedger | undefined;
let stopped = false;
const dir = mkdtempSync(join(tmpdir(), "rc-ext-"));

after(async () => {
  if (runner && !stopped) await runner.stop();
  ledger?.close();
  rmSync(dir, { recursive: true, force: true });
  console.log(`external access on pods: ms ${JSON.stringify(timings)}`);
});

// Pulumi.prod.yaml's kubernetes block without its preferredEndpointType ip (external access makes it hostname).
const { preferredEndpointType: _ip, ...k8s } = readStackFile("prod")["redis-cluster:kubernetes"] as Record<string, unknown>;
const config = (masters: number): Record<string, ConfigInput> =>
  scenarioConfig({
    smoke: true,
    smokeKeys: 1000,
    canary: false,
    extra: {
      "redis-cluster:masters": masters,
      "redis-cluster:kubernetes": { ...k8s, externalAccess: { enabled: true, domain: DOMAIN, sourceRanges: [SOURCE], podRanges: [POD_RANGE] } } as ConfigInput,
      // The outside smoke's kill failover freezes a master with DEBUG SLEEP.
      "redis-cluster:enableDebugCommand": "yes",
    },
  });

/** Every Job of the up (bootstrap, scale, the in-cluster smoke) completed, and a smoke Job was among them. */
function insideClientsOk(up: UpResult, what: string): void {
  assert.ok(up.run.ok, `${what}: ${up.run.errors.join("\n")}`);
  const jobs = up.jobs.map((j) => `${j.name} ${j.reason}`);
  assert.ok(up.jobs.every((j) => j.succeeded), `${what}: ${jobs.join(", ")}\n${up.jobs.filter((j) => !j.succeeded).map((j) => j.attempts.at(-1)?.logTail).join("\n")}`);
  assert.ok(up.jobs.some((j) => j.name.includes("smoke") && j.succeeded), `${what}: no smoke Job ran inside the pod network (${jobs.join(", ")})`);
}

test("external access: the smoke test from outside the cluster through the load balancers, failover and scale-out/in", { timeout: 340_000 }, async () => {
  ledger = CpuLedger.open();
  const starting = PodsRunner.start({ log, cgroupParent: ledger?.cgroupParent });
  starting.then((r) => (runner = r), () => undefined);
  let up = await upOn(starting, { stack: STACK, config: config(3) });
  runner = await starting;
  timings.firstDeploy = Date.now() - t0;
  insideClientsOk(up, "first deploy");
  const seeds = up.run.outputs.externalSeeds as string[];
  assert.deepEqual(seeds, [0, 1, 2, 3, 4, 5].map((i) => `${STS}-${i}.${DOMAIN}:6379`));
  const c = await ProdCluster.fromUp(runner, up);
  const tls = c.auth.tls!;
  assert.ok(tls && c.auth.username === "admin", "TLS and ACL users on, as committed");
  for (const [f, v] of Object.entries({ "ca.crt": tls.ca, "tls.crt": tls.cert, "tls.key": tls.key })) writeFileSync(join(dir, f), v, { mode: 0o600 });
  const out = runner.outside;

  // The only way in is a load balancer: a pod's own address is dropped, its name's load balancer answers.
  const pod0 = runner.pod(`${STS}-0`).ip;
  assert.equal(await out.connect(pod0, 6379), "timeout", "a pod IP must not be reachable from outside");
  assert.equal(await out.connect(`${STS}-0.${DOMAIN}`, 6379), "open");

  /** The smoke CLI in the outside namespace, seeded with the externalSeeds output, verifying host names. */
  const smoke = async (masters: number, failover: "kill" | "manual", what: string) => {
    const t = Date.now();
    const report = join(dir, `${what}.json`);
    const r = await out.run(
      [process.execPath, "--import", "tsx", "smoke/cli.ts", "--nodes", seeds.slice(0, 2).join(","), "--password-env", "REDIS_PASSWORD", "--user", "admin",
        "--expect-masters", String(masters), "--expect-replicas", "1", "--failover", failover, "--keys", "1000", "--json", report, "--quiet"],
      {
        cwd: ROOT,
        timeoutMs: 120_000,
        // The password only in the environment; TLS from files, host names verified (REDIS_TLS_VERIFY_HOSTNAME unset).
        env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_PASSWORD: c.password, REDIS_TLS_CA_FILE: join(dir, "ca.crt"), REDIS_TLS_CERT_FILE: join(dir, "tls.crt"), REDIS_TLS_KEY_FILE: join(dir, "tls.key") },
      },
    );
    timings[`smoke ${what}`] = Date.now() - t;
    assert.equal(r.code, 0, `outside smoke (${what}) exited ${r.code}:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    const checks = (JSON.parse(readFileSync(report, "utf8")) as SmokeReport).checks;
    const check = (name: string) => checks.find((x) => x.name === name)!;
    // Every node reached by its own name, none through a nat map; the failover really happened.
    assert.deepEqual([check("connect").measurements.nodes, check("connect").measurements.nat_mapped], [masters * 2, 0], check("connect").details);
    assert.equal(check("failover").status, "passed", JSON.stringify(check("failover")));
    console.log(`outside smoke ${what}: ${checks.map((x) => `${x.name} ${x.status}`).join(", ")}; failover: ${check("failover").details}`);
  };
  await smoke(3, "kill", "3x1");

  // Scale-out through `pulumi up`: two pods and their load balancers more; the names of the new ones resolve outside.
  let t = Date.now();
  up = await runner.up({ stack: STACK, config: config(4), priorState: up.state });
  timings.scaleOut = Date.now() - t;
  insideClientsOk(up, "scale-out 4x1");
  // Its endpoint follows at the runner's next network sync (the up awaits the pods, not the endpoints).
  let reach = "";
  for (let i = 0; i < 20 && reach !== "open"; i++) reach = await out.connect(`${STS}-7.${DOMAIN}`, 6379, 1000);
  assert.equal(reach, "open");
  await smoke(4, "manual", "4x1");

  // Scale-in back to 3x1: the drained pods and their Services go; their names stop resolving outside.
  t = Date.now();
  up = await runner.up({ stack: STACK, config: config(3), priorState: up.state });
  timings.scaleIn = Date.now() - t;
  insideClientsOk(up, "scale-in 3x1");
  assert.equal(runner.pods.has(`${STS}-7`), false);
  assert.equal((await out.run(["getent", "hosts", `${STS}-7.${DOMAIN}`], { timeoutMs: 5000 })).code, 2, "a removed node's name no longer resolves");
  await smoke(3, "manual", "3x1 again");

  timings.total = Date.now() - t0;
  const left = await runner.stop();
  stopped = true;
  assert.deepEqual(leftoverFailures(left, ledger?.close()), [], "nothing left: daemon, mounts, bridge, cgroups, outside client");
  ledger = undefined;
});
