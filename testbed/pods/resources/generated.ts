// Secrets the program has generated: a RandomPassword's result, and @pulumi/tls keys and certificates made for real
// (../../tlsProvider.ts) as the providers make them.
import { randomUUID } from "node:crypto";
import { randomPassword as makePassword } from "../../randomPassword";
import { Unemulated } from "../../refuse";
import { applyTls } from "../../tlsProvider";
import { refuse } from "../spec";
import type { ResourceHandler } from "./handler";
import { nothingToRemove } from "./stored";

export const randomPassword: ResourceHandler = {
  create: (s) => {
    refuse(`RandomPassword ${s.step.name}`, s.inputs, ["length", "special"]);
    const { length } = s.inputs;
    if (!Number.isInteger(length) || length < 1) throw new Unemulated(`pods runner: RandomPassword ${s.step.name}: length ${length} must be a positive integer`);
    return { id: randomUUID(), outputs: { ...s.step.inputs, result: makePassword({ length, special: s.inputs.special }) } };
  },
  remove: nothingToRemove,
};

export const tlsObject: ResourceHandler = {
  create: (s) => applyTls({ type: s.step.type, name: s.step.name, inputs: s.inputs }),
  remove: nothingToRemove,
};
