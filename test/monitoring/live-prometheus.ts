// Shared by the live monitoring tests: a real Prometheus on 127.0.0.1 read through its HTTP API, and bounded waits.
import assert from "node:assert/strict";
import { spawnSync, type ChildProcess } from "node:child_process";
import { setTimeout as delay } from "node:timers/promises";

export interface Alert {
  labels: Record<string, string>;
  state: "pending" | "firing";
  activeAt: string;
}

export interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** Fails the test with the install hint when `name` is not on PATH. */
export function requireBinary(name: string, arg = "--version"): void {
  const r = spawnSync(name, [arg], { encoding: "utf8", timeout: 10_000 });
  if (r.error) assert.fail(`${name} not found: install with: npm run setup:system`);
}

/** The `data` of a Prometheus API answer, or undefined while it is not up (or answers an error). */
export async function getJson<T>(url: string, signal: AbortSignal): Promise<T | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.any([signal, AbortSignal.timeout(2000)]) });
    if (!res.ok) return undefined;
    return ((await res.json()) as { data: T }).data;
  } catch {
    return undefined;
  }
}

/** Active alerts and instant queries of the Prometheus at 127.0.0.1:`port`. */
export function prometheusApi(port: number, signal: AbortSignal) {
  const api = `http://127.0.0.1:${port}/api/v1`;
  return {
    alerts: async () => (await getJson<{ alerts: Alert[] }>(`${api}/alerts`, signal))?.alerts,
    query: async (q: string) => (await getJson<{ result: Sample[] }>(`${api}/query?query=${encodeURIComponent(q)}`, signal))?.result,
  };
}

/** Polls `probe` every `everyMs` until it returns a value, at most `timeoutMs`; gives up at once when `signal` aborts. */
export async function waitFor<T>(
  signal: AbortSignal,
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false>,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < Math.ceil(timeoutMs / everyMs) + 1 && Date.now() < deadline; i++) {
    signal.throwIfAborted();
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    await delay(everyMs, undefined, { signal });
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Resolves when `child` has exited, or after `ms`. */
export function waitExit(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    child.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
  });
}
