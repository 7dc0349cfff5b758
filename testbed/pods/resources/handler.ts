// What a resource handler of the pods runner is: the create and the in-place update of one resource type.
import type { ProviderStep } from "../../engine/engine";
import type { DeploymentController } from "../deployment";
import type { JobPods, JobResult } from "../job";
import type { PodEnv } from "../pod";
import type { PodNetwork } from "../podNetwork";
import type { Obj } from "../spec";
import type { StatefulSetController } from "../statefulSet";

export interface StepOutput {
  id: string;
  outputs: Record<string, any>;
}

/** One step as a handler gets it. */
export interface Step {
  step: ProviderStep;
  /** The inputs with secrets unwrapped. */
  inputs: Obj;
  /** The object's id: namespace/name (name alone without a namespace). */
  id: string;
  /** Where the runner stores the object: `<kind>/<namespace>/<name>`. */
  key(kind: string): string;
}

/** A resource `up` deletes (dropped by the program, or the old half of a replacement): its last inputs. */
export interface Removal {
  /** The resource type token. */
  type: string;
  inputs: Obj;
  id: string;
  key(kind: string): string;
}

/** What handlers use of the runner (PodsRunner). */
export interface RunnerContext {
  readonly objects: Map<string, Obj>;
  readonly env: PodEnv;
  /** Job pods' files live in <dir>/jobs. */
  readonly dir: string;
  readonly statefulSets: StatefulSetController;
  readonly deployments: DeploymentController;
  readonly jobPods: JobPods;
  readonly network: PodNetwork;
  readonly jobs: JobResult[];
  readonly notRun: string[];
  mark(kind: "job", name: string, what: string): void;
  syncNetwork(): void;
}

export interface ResourceHandler {
  create(s: Step, runner: RunnerContext): StepOutput | Promise<StepOutput>;
  /** In place (the engine sends replacements as creates); without it an update is refused. */
  update?(s: Step, runner: RunnerContext): StepOutput | Promise<StepOutput>;
  /** Deletes what the resource made; without it a delete is refused. */
  remove?(s: Removal, runner: RunnerContext): void | Promise<void>;
}
