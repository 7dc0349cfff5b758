import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import type * as k8s from "@pulumi/kubernetes";
import type { ClusterPlan } from "../plan/plan";
import { buildSmokeBundle } from "../../smoke/bundle";
import type { FailoverMode } from "../../smoke/types";
import { TLS_CLIENT_FILES, tlsEnv } from "../plan/tls";
import { shippedScripts } from "../plan/scripts";
import { declareNodeJob, mountedBundle, type NodeJobArgs } from "./kubernetes/nodeJob";
import { tlsPemEnv, tsxCommand } from "./hostCommand";
import { envList } from "./kubernetes/env";

/** Environment variable the smoke CLI reads the password from (its name travels on argv, never the value). */
export const SMOKE_PASSWORD_ENV = "REDIS_SMOKE_PASSWORD";
/** Environment variable carrying the Docker bootstrap's exit code into the smoke command, which refuses anything but 0. */
export const BOOTSTRAP_EXIT_ENV = "BOOTSTRAP_EXIT_CODE";
const BUNDLE_FILE = "smoke.js";
const BUNDLE_DIR = "/opt/smoke";

/** The smoke CLI's bundle as its Kubernetes Job mounts it. */
export function smokeBundle(): NodeJobArgs["bundle"] {
  return mountedBundle(BUNDLE_FILE, BUNDLE_DIR, buildSmokeBundle());
}

export interface SmokeSettings {
  /** false: the component declares nothing. */
  enabled: boolean;
  failover: FailoverMode;
  keys: number;
  /** Bound of the whole run (the CLI's --timeout-ms); Pulumi's own timeout adds a margin. */
  timeoutMs: number;
  /** Hand mastership back after the failover check (default true: the layout stays as planned). */
  failBack?: boolean;
  /** Benchmark commands per phase (default 10 000; 0 skips the benchmark). */
  benchOps?: number;
}

export interface SmokeTestKubernetesArgs {
  namespace: pulumi.Input<string>;
  /** Secret holding the Redis password (the cluster component's `secretName` output: generated, changes with the password), and its key. */
  secretName: pulumi.Input<string>;
  secretKey: string;
  /** Labels of the Job and its pod (include the client label the NetworkPolicy admits, e.g. redis-cluster-client=true). */
  labels: Record<string, string>;
  /** Image with `node` (>= 18) that runs the bundle; default node:20-alpine (runs as uid 1000). */
  image?: string;
  provider?: k8s.Provider;
}

export interface SmokeTestArgs {
  platform: "docker" | "kubernetes";
  plan: ClusterPlan;
  settings: SmokeSettings;
  nodeTimeoutMs: number;
  /** Redis password (secret). Docker: reaches the CLI through the command's environment. Kubernetes: read from the Secret. */
  password?: pulumi.Input<string>;
  /** Redis image of the cluster (spec.redisImage): an image change re-runs the smoke test. Optional for older callers. */
  redisImage?: string;
  /** The bootstrap step (and anything else) the smoke test must wait for. */
  dependsOn?: pulumi.Input<pulumi.Resource>[];
  /**
   * Docker: the bootstrap container's exit code as recorded. The provider records a non-zero exit without failing the
   * container, so depending on the container is not enough: the smoke command gets the code and refuses to start
   * unless it is 0 (its failure then fails `pulumi up` with that message).
   */
  bootstrapExitCode?: pulumi.Input<number>;
  /** ACL user of the password (acl.enabled: `smoke`); reaches the CLI as REDIS_USER. */
  username?: string;
  kubernetes?: SmokeTestKubernetesArgs;
  /**
   * TLS (tls.enabled). Kubernetes: the Secret with the client certificate (tls.crt, tls.key, ca.crt), mounted into the Job.
   * Docker: the PEM text, handed to the command on the Pulumi host through its environment (key secret).
   * verifyHostname false: chain only (redirects to pod IPs, which no certificate names).
   */
  tls?: { secretName?: pulumi.Input<string>; pem?: { ca: pulumi.Input<string>; cert: pulumi.Input<string>; key: pulumi.Input<string> }; verifyHostname: boolean };
  /**
   * ACL users: the passwords the last rotation retired, JSON {user: [password]}, for the old-passwords check (every node
   * must refuse them). Docker: the JSON itself (secret), in the command's environment; a rotation changes it, so the
   * smoke step runs again. Kubernetes: the Secret holding it under `key` (auto-named: a rotation gives a new Job).
   */
  retiredPasswords?: { json?: pulumi.Input<string>; secretName?: pulumi.Input<string>; key?: string };
}

/** Environment variable of the retired passwords (smoke/cli.ts reads it). */
export const RETIRED_PASSWORDS_ENV = "REDIS_RETIRED_PASSWORDS";

/**
 * Changes whenever the cluster definition or the smoke settings change: the smoke test then runs again. Any shipped
 * script counts: a new probe, preStop or hook rolls the pods, and the rolled cluster is what the smoke test checks.
 */
export function definitionHash(
  args: Pick<SmokeTestArgs, "plan" | "settings" | "nodeTimeoutMs" | "platform" | "redisImage">,
  scripts: Record<string, string> = shippedScripts(),
): string {
  const { plan } = args;
  const def = {
    platform: args.platform,
    nodes: plan.nodes,
    redisConf: plan.redisConf,
    bootstrapScript: plan.bootstrapScript,
    entrypointScript: plan.entrypointScript,
    scripts,
    natMap: plan.natMap,
    nodeTimeoutMs: args.nodeTimeoutMs,
    settings: args.settings,
    // Absent: left out of the JSON, so the hash stays what it was for callers that do not pass it.
    redisImage: args.redisImage,
  };
  return createHash("sha256").update(JSON.stringify(def)).digest("hex");
}

/** CLI arguments shared by both platforms (no secret: the password is named by --password-env only). */
export function smokeCliArgs(args: SmokeTestArgs, nodes: string[], withPassword: boolean): string[] {
  const s = args.settings;
  const out = [
    "--nodes", nodes.join(","),
    "--expect-masters", String(args.plan.masters),
    "--expect-replicas", String(args.plan.replicasPerMaster),
    "--failover", s.failover,
    "--keys", String(s.keys),
    "--timeout-ms", String(s.timeoutMs),
    "--node-timeout-ms", String(args.nodeTimeoutMs),
    "--bench-ops", String(s.benchOps ?? 10_000),
  ];
  if (s.failBack === false) out.push("--no-fail-back");
  // The canary (canary.enabled) of the previous deploy is running: the smoke step reports what it saw of this one.
  if (args.plan.canaryUrl) out.push("--canary-url", args.plan.canaryUrl);
  if (withPassword) out.push("--password-env", SMOKE_PASSWORD_ENV);
  return out;
}

/** Throws for settings that cannot work (the stack-config validation reports the same with the key to change). */
export function checkSmokeArgs(name: string, args: SmokeTestArgs): void {
  if (!args.settings.enabled) return;
  if (args.settings.failover !== "none" && args.plan.replicasPerMaster === 0) {
    throw new Error(`SmokeTest ${name}: failover ${args.settings.failover} needs replicas, but replicasPerMaster is 0`);
  }
  if (args.platform === "kubernetes" && !args.kubernetes) {
    throw new Error(`SmokeTest ${name}: platform kubernetes needs args.kubernetes (namespace, secretName, secretKey, labels)`);
  }
}

/**
 * Runs the ioredis smoke test (smoke/cli.ts) once the cluster is bootstrapped; `pulumi up` fails when it fails,
 * with the failing checks in the error.
 * - docker: a local Command on the Pulumi host against the published ports (hostSeeds), with the plan's natMap.
 * - kubernetes: a ConfigMap with the esbuild bundle of the CLI and a Job (node image) running it; Pulumi awaits the Job.
 * It re-runs when the cluster definition or the smoke settings change (triggers / a hash on the Job).
 */
export class SmokeTest extends pulumi.ComponentResource {
  /** Hash of the cluster definition the last run verified. */
  declare readonly definitionHash: pulumi.Output<string>;
  /** Docker: the CLI's output (progress and summary table). */
  declare readonly output: pulumi.Output<string | undefined>;
  /** Kubernetes: name of the smoke Job. */
  declare readonly jobName: pulumi.Output<string | undefined>;

  constructor(name: string, args: SmokeTestArgs, opts?: pulumi.ComponentResourceOptions) {
    checkSmokeArgs(name, args); // before anything is registered
    super("redis-cluster:smoke:SmokeTest", name, {}, opts);
    const hash = definitionHash(args);
    let output: pulumi.Output<string | undefined> = pulumi.output(undefined);
    let jobName: pulumi.Output<string | undefined> = pulumi.output(undefined);
    if (args.settings.enabled) {
      if (args.platform === "docker") output = this.docker(name, args, hash);
      else jobName = this.kubernetes(name, args, hash);
    }
    this.definitionHash = pulumi.output(hash);
    this.output = output;
    this.jobName = jobName;
    this.registerOutputs({ definitionHash: this.definitionHash, output: this.output, jobName: this.jobName });
  }

  private docker(name: string, args: SmokeTestArgs, hash: string): pulumi.Output<string | undefined> {
    const withPassword = args.password !== undefined;
    const cli = tsxCommand("smoke/cli.ts", smokeCliArgs(args, args.plan.hostSeeds, withPassword));
    const environment: Record<string, pulumi.Input<string>> = { SMOKE_NAT_MAP: JSON.stringify(args.plan.natMap) };
    if (args.password !== undefined) environment[SMOKE_PASSWORD_ENV] = pulumi.secret(args.password);
    if (args.username) environment.REDIS_USER = args.username;
    if (args.retiredPasswords?.json !== undefined) environment[RETIRED_PASSWORDS_ENV] = pulumi.secret(args.retiredPasswords.json);
    if (args.tls?.pem) {
      Object.assign(environment, tlsPemEnv(args.tls.pem));
      if (!args.tls.verifyHostname) environment.REDIS_TLS_VERIFY_HOSTNAME = "no";
    }
    if (args.bootstrapExitCode === undefined) throw new Error(`SmokeTest ${name}: docker needs args.bootstrapExitCode (the bootstrap container's exitCode)`);
    environment[BOOTSTRAP_EXIT_ENV] = pulumi.output(args.bootstrapExitCode).apply((c) => String(c));
    // A partial or foreign cluster the bootstrap refused must not get a failover test.
    const guard = `if [ "$${BOOTSTRAP_EXIT_ENV}" != 0 ]; then echo "smoke test not run: the bootstrap exited $${BOOTSTRAP_EXIT_ENV} (see its logs)" >&2; exit 1; fi`;
    const cmd = new command.local.Command(
      `${name}-run`,
      {
        create: `${guard}; ${cli}`,
        // No `dir`: an absolute checkout path as an input would re-run the smoke from every other clone (a teammate,
        // CI). pulumi-command runs in the provider's working directory, which Pulumi sets to the project directory.
        environment,
        triggers: [hash],
        logging: "stdoutAndStderr",
      },
      { parent: this, dependsOn: args.dependsOn, customTimeouts: { create: `${Math.ceil(args.settings.timeoutMs / 1000) + 120}s`, update: `${Math.ceil(args.settings.timeoutMs / 1000) + 120}s` } },
    );
    return cmd.stdout;
  }

  private kubernetes(name: string, args: SmokeTestArgs, hash: string): pulumi.Output<string | undefined> {
    const k = args.kubernetes!;
    const timeoutS = Math.ceil(args.settings.timeoutMs / 1000);
    const tls = args.tls?.secretName !== undefined ? { secretName: args.tls.secretName, verifyHostname: args.tls.verifyHostname } : undefined;
    const retired = args.retiredPasswords?.secretName;
    const job = declareNodeJob(
      this,
      name,
      {
        namespace: k.namespace,
        labels: k.labels,
        image: k.image,
        bundle: smokeBundle(),
        definitionHash: hash,
        container: {
          name: "smoke",
          // The failure digest (failing checks) becomes the pod's termination message.
          // Seeded through the client Service, as applications are: it must route to Ready pods.
          args: [...smokeCliArgs(args, args.plan.clientSeeds, true), "--termination-log", "/dev/termination-log"],
          env: [
            { name: SMOKE_PASSWORD_ENV, valueFrom: { secretKeyRef: { name: k.secretName, key: k.secretKey } } },
            ...(args.username ? [{ name: "REDIS_USER", value: args.username }] : []),
            ...(retired !== undefined ? [{ name: RETIRED_PASSWORDS_ENV, valueFrom: { secretKeyRef: { name: retired, key: args.retiredPasswords?.key ?? "retired.json" } } }] : []),
            ...(tls ? envList(tlsEnv(TLS_CLIENT_FILES)) : []),
            ...(tls && !tls.verifyHostname ? [{ name: "REDIS_TLS_VERIFY_HOSTNAME", value: "no" }] : []),
          ],
          volumeMounts: tls ? [{ name: "tls-client", mountPath: TLS_CLIENT_FILES.dir, readOnly: true }] : [],
        },
        volumes: tls ? [{ name: "tls-client", secret: { secretName: tls.secretName, defaultMode: 0o440 } }] : [],
        // One attempt: a failed smoke test must fail the deployment, not be retried into a pass.
        backoffLimit: 0,
        activeDeadlineSeconds: timeoutS + 120,
      },
      // Pulumi waits for the Job to complete: the smoke test's own bound plus scheduling and image pull.
      { provider: k.provider, dependsOn: args.dependsOn, waitSeconds: timeoutS + 300 },
    );
    return job.metadata.name;
  }
}

/** Settings from the validated spec (smoke object with the platform default of failover applied). */
export function smokeSettingsFromSpec(spec: { smoke: { enabled: boolean; keys: number; timeoutMs: number }; smokeFailover: SmokeSettings["failover"] }): SmokeSettings {
  return { enabled: spec.smoke.enabled, failover: spec.smokeFailover, keys: spec.smoke.keys, timeoutMs: spec.smoke.timeoutMs };
}
