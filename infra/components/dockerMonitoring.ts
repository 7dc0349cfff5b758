import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { EXPORTER_ACL_ENV } from "../plan/acl";
import { renderAlertRulesYaml } from "../../monitoring/rules";
import type { CanarySloOptions } from "../../monitoring/slo";
import { renderPrometheusConfigYaml } from "../../monitoring/prometheus";
import { EXPORTER_IMAGE, EXPORTER_PORT, PROMETHEUS_IMAGE, PUSHGATEWAY_IMAGE } from "../../monitoring/images";
import { PUSHGATEWAY_PORT } from "../plan/backup";
import { TLS_CLIENT_FILES, exporterAddress, exporterTlsEnv } from "../plan/tls";
import { certUploads, dockerEnvs } from "./docker/context";

/** Pinned images and port (monitoring/images.ts); bump deliberately (the rules depend on redis_exporter metric names). */
export { EXPORTER_IMAGE, EXPORTER_PORT, PROMETHEUS_IMAGE };
const PROMETHEUS_CONFIG = "/etc/prometheus/prometheus.yml";
const PROMETHEUS_RULES = "/etc/prometheus/rules/redis-cluster.rules.yml";

export interface DockerMonitoringNode {
  /** Node name from the plan, e.g. "redis-0"; names the exporter container. */
  name: string;
  /** Address of the node inside the Docker network. */
  host: string;
  port: number;
}

export interface DockerMonitoringArgs {
  /** Docker network the Redis nodes are on; exporters and Prometheus join it. */
  networkName: pulumi.Input<string>;
  /** Every Redis node (plain values from the plan: one exporter container is created per node). */
  nodes: DockerMonitoringNode[];
  /**
   * Prometheus job of this cluster's exporters: the scrape config's job_name and the label every rule counts on.
   * One per cluster (the cluster component passes its name, e.g. "redis-cluster-dev").
   */
  job: string;
  /** Planned topology; the alert rules compare against it. */
  masters: number;
  replicasPerMaster: number;
  /** Redis password. It reaches the exporters as the REDIS_PASSWORD environment variable (secret), never argv. */
  password?: pulumi.Input<string>;
  /** ACL users on: the password is the `exporter` user's; log in as it and never call CONFIG GET (it would reveal masterauth). */
  aclUser?: boolean;
  /** Host port for the Prometheus UI/API. Default 9090. */
  prometheusHostPort?: number;
  /** Host address Prometheus is published on. Default 127.0.0.1 (not exposed to the LAN). */
  publishIp?: string;
  /** Scrape and rule evaluation interval. Default "15s". */
  scrapeInterval?: string;
  runbookBaseUrl?: string;
  exporterImage?: string;
  /** The canary (canary.enabled): its /metrics inside the network (host:port) and its SLOs; scraped, its rules loaded. */
  canary?: { target: string; slo: CanarySloOptions & { job: string } };
  prometheusImage?: string;
  /** TLS (tls.enabled): the client certificate the exporters connect with (rediss://); the key is uploaded as a private file. */
  tls?: { ca: pulumi.Input<string>; cert: pulumi.Input<string>; key: pulumi.Input<string> };
  /**
   * backup.enabled: a Pushgateway container `name` the backup runs push to (published on `hostPort` of publishIp: the
   * runs start on the host), scraped by Prometheus with honor_labels; the backup rules for `cluster` are loaded.
   */
  pushgateway?: { name: string; hostPort: number; cluster: string; image?: string };
}

/**
 * Dev monitoring on Docker: one redis_exporter container next to every node (one failure stays one failed scrape, as on
 * Kubernetes with the sidecar) and a Prometheus container loaded with the same rules and scrape config as everywhere else.
 */
export class DockerMonitoring extends pulumi.ComponentResource {
  /** Prometheus as reached from the Docker host. */
  declare readonly prometheusUrl: pulumi.Output<string>;
  /** "host:port" of every exporter inside the network. */
  declare readonly exporterTargets: pulumi.Output<string[]>;
  /** The rule file loaded into Prometheus (same text as `npm run rules:print`). */
  declare readonly rulesYaml: pulumi.Output<string>;
  /** args.pushgateway: its container (a backup run that pushes waits for it). */
  declare readonly pushgateway: docker.Container | undefined;

  constructor(name: string, args: DockerMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-cluster:monitoring:DockerMonitoring", name, {}, opts);
    if (args.nodes.length === 0) throw new Error("DockerMonitoring: nodes must not be empty");
    const hostPort = args.prometheusHostPort ?? 9090;
    const publishIp = args.publishIp ?? "127.0.0.1";
    const interval = args.scrapeInterval ?? "15s";

    const exporterImage = new docker.RemoteImage(
      `${name}-exporter-image`,
      { name: args.exporterImage ?? EXPORTER_IMAGE, keepLocally: true },
      { parent: this },
    );
    const prometheusImage = new docker.RemoteImage(
      `${name}-prometheus-image`,
      { name: args.prometheusImage ?? PROMETHEUS_IMAGE, keepLocally: true },
      { parent: this },
    );

    // Secret: Pulumi then treats the whole env list as secret in state and previews. Env, not argv: `ps` never shows it.
    const passwordEnv = args.password === undefined ? [] : [pulumi.secret(pulumi.interpolate`REDIS_PASSWORD=${args.password}`)];
    const tlsEnvs = args.tls ? dockerEnvs(exporterTlsEnv(TLS_CLIENT_FILES)) : [];
    // The exporter images run as uid 59000 (official and stand-in): the key file is theirs alone.
    const tlsUploads = args.tls ? certUploads(args.tls, TLS_CLIENT_FILES, "59000") : [];
    const targets = args.nodes.map((node) => {
      const alias = `${name}-exporter-${node.name}`;
      new docker.Container(
        alias,
        {
          name: alias,
          image: exporterImage.imageId,
          envs: [`REDIS_ADDR=${exporterAddress(!!args.tls, node.host, node.port)}`, `REDIS_EXPORTER_WEB_LISTEN_ADDRESS=:${EXPORTER_PORT}`, ...passwordEnv, ...tlsEnvs, ...(args.aclUser ? dockerEnvs(EXPORTER_ACL_ENV) : [])],
          ...(args.tls ? { uploads: tlsUploads } : {}),
          networksAdvanced: [{ name: args.networkName, aliases: [alias] }],
          restart: "unless-stopped",
        },
        // Fixed container name: the old container must go before its replacement can be created.
        { parent: this, deleteBeforeReplace: true },
      );
      return { exporter: `${alias}:${EXPORTER_PORT}`, node: `${node.host}:${node.port}` };
    });

    const rulesYaml = renderAlertRulesYaml({
      job: args.job,
      masters: args.masters,
      replicasPerMaster: args.replicasPerMaster,
      runbookBaseUrl: args.runbookBaseUrl,
      canary: args.canary?.slo,
      backup: args.pushgateway ? { cluster: args.pushgateway.cluster } : undefined,
    });
    const prometheusYaml = renderPrometheusConfigYaml({
      exporters: { mode: "per-node", targets },
      job: args.job,
      canary: args.canary ? { job: args.canary.slo.job ?? "", target: args.canary.target } : undefined,
      ruleFiles: [PROMETHEUS_RULES],
      scrapeInterval: interval,
      pushgateway: args.pushgateway ? { target: `${args.pushgateway.name}:${PUSHGATEWAY_PORT}` } : undefined,
    });

    if (args.pushgateway) {
      const pg = args.pushgateway;
      const image = new docker.RemoteImage(`${name}-pushgateway-image`, { name: pg.image ?? PUSHGATEWAY_IMAGE, keepLocally: true }, { parent: this });
      this.pushgateway = new docker.Container(
        pg.name,
        {
          name: pg.name,
          image: image.imageId,
          networksAdvanced: [{ name: args.networkName, aliases: [pg.name] }],
          ports: [{ internal: PUSHGATEWAY_PORT, external: pg.hostPort, ip: publishIp }],
          restart: "unless-stopped",
        },
        // Fixed name and host port: delete the old container first.
        { parent: this, deleteBeforeReplace: true },
      );
    }

    new docker.Container(
      `${name}-prometheus`,
      {
        name: `${name}-prometheus`,
        image: prometheusImage.imageId,
        // Content, not host paths: works the same on a remote Docker host.
        uploads: [
          { file: PROMETHEUS_CONFIG, content: prometheusYaml },
          { file: PROMETHEUS_RULES, content: rulesYaml },
        ],
        networksAdvanced: [{ name: args.networkName, aliases: [`${name}-prometheus`] }],
        ports: [{ internal: 9090, external: hostPort, ip: publishIp }],
        healthcheck: {
          tests: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:9090/-/ready"],
          interval: "5s",
          timeout: "3s",
          retries: 12,
        },
        restart: "unless-stopped",
      },
      // Fixed name and host port: delete the old container first.
      { parent: this, deleteBeforeReplace: true },
    );

    this.prometheusUrl = pulumi.output(`http://${publishIp === "0.0.0.0" ? "127.0.0.1" : publishIp}:${hostPort}`);
    this.exporterTargets = pulumi.output(targets.map((t) => t.exporter));
    this.rulesYaml = pulumi.output(rulesYaml);
    this.registerOutputs({ prometheusUrl: this.prometheusUrl, exporterTargets: this.exporterTargets, rulesYaml: this.rulesYaml });
  }
}
