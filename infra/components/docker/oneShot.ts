import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import * as command from "@pulumi/command";
import { CONTAINER_PATHS } from "../../plan/plan";
import { scriptFiles, type ScriptName } from "../../plan/scripts";
import { REDIS_UID, type DockerClusterContext } from "./context";

export interface OneShotArgs {
  /** Names the resource (`<cluster>-<step>`) and the container (`<stack's cluster name>-<step>`). */
  step: string;
  /** Default: the redis user. */
  user?: string;
  entrypoints: pulumi.Input<string>[];
  envs?: pulumi.Input<string>[];
  /** Shipped into CONTAINER_PATHS.dir with whatever they source, ahead of `uploads`. */
  scripts?: ScriptName[];
  uploads: docker.types.input.ContainerUpload[];
  volumes?: docker.types.input.ContainerVolume[];
  /** false: no network at all. Default: the cluster network. */
  network?: false;
  dependsOn: pulumi.Input<pulumi.Resource>[];
}

export interface OneShot {
  container: docker.Container;
  /** Container name: where `docker logs` finds its diagnosis. */
  name: string;
  /** The recorded exit code; -1 while none is. */
  exitCode: pulumi.Output<number>;
}

/**
 * A container of the cluster's image that runs a step once, to its end, whenever its inputs change (a new script, env or
 * upload re-runs it). The provider records its exit code without failing it: `exitCheck` turns a non-zero code into a
 * failed `pulumi up`. Fixed container names: the old container must go before its replacement starts.
 */
export function oneShot(cx: DockerClusterContext, args: OneShotArgs): OneShot {
  const name = `${cx.spec.name}-${args.step}`;
  const scripts = Object.entries(scriptFiles(...(args.scripts ?? []))).map(([file, content]) => ({ file: `${CONTAINER_PATHS.dir}/${file}`, content, executable: true }));
  const container = new docker.Container(
    `${cx.name}-${args.step}`,
    {
      name,
      image: cx.image.imageId,
      user: args.user ?? `${REDIS_UID}:${REDIS_UID}`,
      entrypoints: args.entrypoints,
      envs: args.envs,
      uploads: [...scripts, ...args.uploads],
      volumes: args.volumes,
      ...(args.network === false ? { networkMode: "none" } : { networksAdvanced: [{ name: cx.network.name }] }),
      restart: "no",
      mustRun: false,
      attach: true,
      logs: true,
    },
    { parent: cx.parent, dependsOn: args.dependsOn, deleteBeforeReplace: true },
  );
  return { container, name, exitCode: container.exitCode.apply((x) => (typeof x === "number" ? x : -1)) };
}

/**
 * A step that fails `pulumi up` when `step` exited non-zero (its code in `$env`), saying where its diagnosis is.
 * Not a throwing `.apply`: a failed apply feeding other resources can leave the Node.js SDK waiting forever
 * (pulumi/pulumi#14980; seen under the test engine).
 */
export function exitCheck(
  cx: DockerClusterContext,
  check: string,
  step: OneShot,
  what: pulumi.Input<string>,
  opts: { env?: string; hint?: pulumi.Input<string> } = {},
): command.local.Command {
  const env = opts.env ?? "EXIT_CODE";
  return new command.local.Command(
    `${cx.name}-${check}`,
    {
      create: pulumi.interpolate`if [ "$${env}" != 0 ]; then echo "${what} exited $${env}; its diagnosis: docker logs ${step.name}${opts.hint ?? ""}" >&2; exit 1; fi`,
      environment: { [env]: step.exitCode.apply(String) },
    },
    { parent: cx.parent, dependsOn: [step.container] },
  );
}
