// The config tests' view of a refused stack config: the ConfigError's problem lines.
import assert from "node:assert/strict";
import { ConfigError, validateConfig } from "../../../infra/config/schema";

/** The problems validateConfig lists for `raw`; fails the test when it is accepted or throws anything else. */
export function problems(raw: Record<string, unknown>): string[] {
  try {
    validateConfig(raw);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${e}`);
    return e.problems;
  }
  assert.fail(`expected ${JSON.stringify(raw)} to be rejected`);
}
