// The testbed's one rule for arguments: a field it would silently ignore is refused by name, so a defect hidden in
// that field cannot pass a test (the Docker applier, the TLS provider and the pods runner all go through here).

/** A field set by the program that the testbed does not emulate. */
export class Unemulated extends Error {}

/**
 * Throws `Unemulated` when `obj` has a key with a value outside `known`. `who` names the emulator ("Docker applier",
 * "pods runner", …), `what` the object and its place; the message lists what is implemented, and `fix` what to do.
 */
export function refuseUnknown(
  who: string,
  what: string,
  obj: Record<string, unknown> | undefined,
  known: readonly string[],
  fix = "implement it in the testbed or leave it out of the program",
): void {
  if (!obj) return;
  const extra = Object.keys(obj).filter((k) => obj[k] !== undefined && obj[k] !== null && !known.includes(k));
  if (extra.length > 0) {
    throw new Unemulated(`${who}: ${what} sets ${extra.map((k) => `'${k}'`).join(", ")}, which the ${who} does not implement (implemented: ${known.join(", ")}); ${fix}`);
  }
}
