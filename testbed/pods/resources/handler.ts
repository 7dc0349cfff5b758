// What a resource handler of the pods runner is: the create and the in-place update of one resource type.
import type { ProviderStep } from "../../engine/engine";
import type { PodsRunner } from "../runner";
import type { Obj } from "../spec";

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

export interface ResourceHandler {
  create(s: Step, runner: PodsRunner): StepOutput | Promise<StepOutput>;
  /** In place (the engine sends replacements as creates); without it an update is refused. */
  update?(s: Step, runner: PodsRunner): StepOutput | Promise<StepOutput>;
}
