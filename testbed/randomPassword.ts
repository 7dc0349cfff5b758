// @pulumi/random's RandomPassword as the testbed makes it (the Docker applier and the pods runner): the provider's
// character set, each character drawn uniformly (crypto.randomInt, no modulo bias).
import { randomInt } from "node:crypto";

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** The random provider's special characters when overrideSpecial is not set (terraform-provider-random). */
export const RANDOM_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";

/** The characters of a RandomPassword: letters and digits, and the provider's specials unless `special` is false (its default is true). */
export function passwordAlphabet(inputs: { special?: boolean }): string {
  return inputs.special === false ? ALNUM : ALNUM + RANDOM_SPECIAL;
}

/** A password of `length` characters of the alphabet `inputs` asks for. */
export function randomPassword(inputs: { length: number; special?: boolean }): string {
  const alphabet = passwordAlphabet(inputs);
  return Array.from({ length: inputs.length }, () => alphabet[randomInt(alphabet.length)]).join("");
}
