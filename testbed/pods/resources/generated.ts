// Secrets the program has generated: a RandomPassword's result, and @pulumi/tls keys and certificates made for real
// (../../tlsProvider.ts) as the providers make them.
import { randomInt, randomUUID } from "node:crypto";
import { Unemulated } from "../../refuse";
import { applyTls } from "../../tlsProvider";
import { refuse } from "../spec";
import type { ResourceHandler } from "./handler";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** The random provider's special characters when overrideSpecial is not set (terraform-provider-random). */
export const RANDOM_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

/** The characters of a RandomPassword: letters and digits, and the provider's specials unless `special` is false (its default is true). */
export function passwordAlphabet(inputs: { special?: boolean }): string {
  return inputs.special === false ? ALNUM : ALNUM + RANDOM_SPECIAL;
}

export const randomPassword: ResourceHandler = {
  create: (s) => {
    refuse(`RandomPassword ${s.step.name}`, s.inputs, ["length", "special"]);
    const { length } = s.inputs;
    if (!Number.isInteger(length) || length < 1) throw new Unemulated(`pods runner: RandomPassword ${s.step.name}: length ${length} must be a positive integer`);
    const alphabet = passwordAlphabet(s.inputs);
    const result = Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join("");
    return { id: randomUUID(), outputs: { ...s.step.inputs, result } };
  },
};

export const tlsObject: ResourceHandler = {
  create: (s) => applyTls({ type: s.step.type, name: s.step.name, inputs: s.inputs }),
};
