// Secrets the program has generated: a RandomPassword's result, and @pulumi/tls keys and certificates made for real
// (../../tlsProvider.ts) as the providers make them.
import { randomBytes, randomUUID } from "node:crypto";
import { applyTls } from "../../tlsProvider";
import { refuse } from "../spec";
import type { ResourceHandler } from "./handler";

export const randomPassword: ResourceHandler = {
  create: (s) => {
    refuse(`RandomPassword ${s.step.name}`, s.inputs, ["length", "special"]);
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    const result = [...randomBytes(s.inputs.length)].map((b) => alphabet[b % alphabet.length]).join("");
    return { id: randomUUID(), outputs: { ...s.step.inputs, result } };
  },
};

export const tlsObject: ResourceHandler = {
  create: (s) => applyTls({ type: s.step.type, name: s.step.name, inputs: s.inputs }),
};
