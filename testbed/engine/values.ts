// Pulumi's wire encoding of special values inside resource properties (sdk/nodejs/runtime/rpc.ts), and helpers
// for assertions on what the program sent.

/** An unknown value (preview: an output that only exists after the resource is created). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
/** Key marking a special object, and the signatures of the kinds used here. */
export const SIG_KEY = "4dabf18193072939515e22adb298388d";
export const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
export const RESOURCE_REF_SIG = "5cf8f73096256a8f31e491e813e4eb8e";
export const OUTPUT_VALUE_SIG = "d0e6a833031e9bbcd3f4e8bde6ca49a4";

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

export const isSecret = (v: unknown): boolean => isObj(v) && v[SIG_KEY] === SECRET_SIG;
export const secret = (value: unknown): Obj => ({ [SIG_KEY]: SECRET_SIG, value });

/** The value with every secret wrapper (and output-value wrapper) removed. */
export function unwrapSecrets<T = any>(v: unknown): T {
  if (Array.isArray(v)) return v.map((x) => unwrapSecrets(x)) as T;
  if (isObj(v)) {
    if (v[SIG_KEY] === SECRET_SIG) return unwrapSecrets(v.value);
    if (v[SIG_KEY] === OUTPUT_VALUE_SIG) return ("value" in v ? unwrapSecrets(v.value) : UNKNOWN) as T;
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)])) as T;
  }
  return v as T;
}

/** Every string in a value outside secret wrappers: what would be stored or shown in plain text. */
export function plainStrings(v: unknown, out: string[] = []): string[] {
  if (typeof v === "string") out.push(v);
  else if (Array.isArray(v)) v.forEach((x) => plainStrings(x, out));
  else if (isObj(v) && !isSecret(v)) Object.values(v).forEach((x) => plainStrings(x, out));
  return out;
}

/** True when the value holds an unknown anywhere. */
export function hasUnknown(v: unknown): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(hasUnknown);
  if (isObj(v)) {
    if (v[SIG_KEY] === OUTPUT_VALUE_SIG && !("value" in v)) return true;
    return Object.values(v).some(hasUnknown);
  }
  return false;
}

/** Structural equality of two property values (secret wrappers compared by their contents). */
export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(unwrapSecrets(a))) === JSON.stringify(canonical(unwrapSecrets(b)));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObj(v)) return Object.fromEntries(Object.keys(v).sort().filter((k) => v[k] !== undefined && v[k] !== null).map((k) => [k, canonical(v[k])]));
  return v;
}

/**
 * The engine's rule for provider outputs (pulumi's annotateSecrets, applied to every Create/Update/Read result): an
 * output whose input of the same key held a secret is secret; objects on both sides are matched key by key, anything
 * else (arrays included) becomes secret as a whole.
 */
export function annotateSecrets(outs: Record<string, any>, ins: Record<string, any>): Record<string, any> {
  const out = { ...outs };
  for (const [k, inValue] of Object.entries(ins)) {
    if (!(k in out)) continue;
    const o = out[k];
    if (isObj(o) && !isSecret(o) && isObj(inValue) && !isSecret(inValue)) out[k] = annotateSecrets(o, inValue);
    else if (!isSecret(o) && containsSecrets(inValue)) out[k] = secret(o);
  }
  return out;
}

/** True when the value holds a secret anywhere. */
export function containsSecrets(v: unknown): boolean {
  if (isSecret(v)) return true;
  if (Array.isArray(v)) return v.some(containsSecrets);
  return isObj(v) && Object.values(v).some(containsSecrets);
}
