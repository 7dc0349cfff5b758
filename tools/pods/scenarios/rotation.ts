// Password rotation through another `pulumi up` with an application writing throughout (and, rotateSmoke, switching
// to its new password); the old passwords must be refused on every pod afterwards.
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import Redis from "ioredis";
import { upOn, type UpResult } from "../../../testbed/pods/runner";
import { startWriter, type WriterResult } from "../../../testbed/workload/application";
import { unwrapSecrets } from "../../../testbed/engine/values";
import type { ConfigInput } from "../../../testbed/engine/engine";
import { sleep } from "../../../smoke/time";
import { STACK, STS, type ProdCluster } from "./cluster";
import { contextAt, type Row } from "./report";

/**
 * Password rotation through `pulumi up` with a client writing throughout: a second up of the deployed stack with
 * admin's password changed (the program: rotate-add Job, the StatefulSet rolls one pod at a time, bootstrap/scale
 * verify, rotate-remove, smoke Job with its old-passwords check). The client is an application as ACL user `smoke`
 * (keys smoke:*) over TLS with the stack's client certificate, one SET at a time (testbed/workload/application.ts). Every error
 * is placed on the runner's timeline (which Job ran, which pod was being replaced). At the end: the old passwords must
 * be refused (WRONGPASS) on every pod. `rotateSmoke`: the smoke user's password changes too (configured, secret), and
 * the application switches as one that re-reads its Secret would: once rotate-add is Complete (both passwords valid
 * from then until rotate-remove) its writer stops and a new client with the new password takes over.
 * `prev`: the up this one follows (its engine state and outputs); `config`: that up's config.
 */
export async function passwordRotation(
  c: ProdCluster,
  prev: UpResult,
  config: Record<string, ConfigInput>,
  root?: string,
  opts: { rotateSmoke?: boolean } = {},
): Promise<{ row: Row; up?: UpResult; config: Record<string, ConfigInput> }> {
  const runner = c.runner;
  const out = unwrapSecrets<Record<string, any>>(prev.run.outputs);
  const smokePassword: string | undefined = out.aclPasswords?.smoke;
  if (!smokePassword) throw new Error("rotation: no smoke user's password among the stack outputs (aclPasswords.smoke): ACL users off?");
  const old = c.password;
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const gen = () => [...randomBytes(32)].map((b) => alphabet[b % alphabet.length]).join("");
  const next = gen();
  const nextSmoke = opts.rotateSmoke ? gen() : smokePassword;
  const upConfig: Record<string, ConfigInput> = {
    ...config,
    "redis-cluster:password": { secret: next },
    ...(opts.rotateSmoke ? { "redis-cluster:acl": { secret: JSON.stringify({ passwords: { smoke: nextSmoke } }) } } : {}),
  };
  const load0 = loadavg().map((x) => x.toFixed(2)).join(" ");
  const jobsBefore = runner.jobs.length;
  const timelineFrom = runner.timeline.length;
  const w1 = startWriter(c.client({ username: "smoke", password: smokePassword }), "smoke:rotation:");
  await sleep(2000);
  const t0 = Date.now();
  runner.mark("step", "rotation-up", "start");
  let up: UpResult | undefined;
  let upDone = false;
  // The application's switch to its new password (rotateSmoke): after rotate-add, before rotate-remove.
  let r1: WriterResult | undefined;
  let w2: ReturnType<typeof startWriter> | undefined;
  let switchAt: number | undefined;
  let switchMs: number | undefined;
  const switcher = (async () => {
    if (!opts.rotateSmoke) return;
    for (let i = 0; i < 20_000 && !upDone; i++) {
      if (runner.timeline.slice(timelineFrom).some((e) => e.kind === "job" && /rotate-add/.test(e.name) && e.what === "Complete")) {
        switchAt = Date.now();
        r1 = await w1.stop();
        w2 = startWriter(c.client({ username: "smoke", password: nextSmoke }), "smoke:rotation:");
        switchMs = Date.now() - switchAt;
        runner.mark("step", "application", "switched to the new smoke password");
        return;
      }
      await sleep(50);
    }
  })();
  let written: WriterResult;
  try {
    up = await upOn(Promise.resolve(runner), { stack: STACK, config: upConfig, priorState: prev.state, root });
  } finally {
    upDone = true;
    await switcher;
    runner.mark("step", "rotation-up", "end");
    await sleep(2000);
    const last = await (w2 ?? w1).stop();
    written = r1 ? mergeWriters(r1, last) : last;
  }
  const upMs = Date.now() - t0;
  const load1 = loadavg().map((x) => x.toFixed(2)).join(" ");
  if (up.run.ok) c.password = next;
  const timeline = runner.timeline.slice(timelineFrom);
  const rel = (at: number) => `${((at - t0) / 1000).toFixed(1)} s`;

  // Errors grouped by message and what was happening (first and last time of each group).
  const groups = new Map<string, number[]>();
  written.errors.forEach((m, i) => {
    const k = `${m.replace(/\s+/g, " ").slice(0, 120)} | ${contextAt(timeline, written.errorAt[i])}`;
    groups.set(k, [...(groups.get(k) ?? []), written.errorAt[i]]);
  });
  const errorText = [...groups].map(([k, ats]) => `${ats.length}× "${k.split(" | ")[0]}" at ${rel(ats[0])}${ats.length > 1 ? `..${rel(ats[ats.length - 1])}` : ""} (${k.split(" | ")[1]})`);
  const slowest = written.slow.reduce<{ at: number; ms: number } | undefined>((a, x) => (!a || x.ms > a.ms ? x : a), undefined);
  const slowAbove1s = written.slow.filter((x) => x.ms >= 1000);

  // Steps of the up in order: Jobs (with duration) and the roll.
  const jobs = runner.jobs.slice(jobsBefore);
  const jobStarts = timeline.filter((e) => e.kind === "job" && e.what === "start");
  const jobText = jobs.map((j) => {
    const st = jobStarts.find((e) => e.name === j.name);
    return `${j.name.replace(`${STS}-`, "").replace(/-[0-9a-f]{8}$/, "")} ${j.reason} (${st ? `started at ${rel(st.at)}, ` : ""}took ${(j.durationMs / 1000).toFixed(1)} s)`;
  });
  const rolled = timeline.filter((e) => e.what === "rolling update: delete (graceful)");
  const readyAgain = timeline.filter((e) => e.what === "rolling update: replacement Ready");
  const rollText = rolled.length
    ? `roll ${rolled.map((e) => e.name.replace(`${STS}-`, "")).join(",")} from ${rel(rolled[0].at)} to ${readyAgain.length ? rel(readyAgain[readyAgain.length - 1].at) : "?"}`
    : "no pod replaced";
  // The writer kept writing through each replacement: acknowledged writes in the seconds from the pod's delete to its
  // replacement's Ready, and the lowest count of any whole second of the up.
  const okIn = (a: number, b: number) => {
    let n = 0;
    for (let i = Math.floor((a - written.startedAt) / 1000); i <= Math.floor((b - written.startedAt) / 1000); i++) n += written.okPerSecond[i] ?? 0;
    return n;
  };
  const perPod = rolled.map((e) => {
    const end = readyAgain.find((x) => x.name === e.name && x.at >= e.at)?.at ?? e.at;
    return `${e.name.replace(`${STS}-`, "")}:${okIn(e.at, end)} in ${((end - e.at) / 1000).toFixed(1)} s`;
  });
  const upSeconds = written.okPerSecond.slice(Math.ceil((t0 - written.startedAt) / 1000), Math.floor((t0 + upMs - written.startedAt) / 1000));
  const sorted = [...upSeconds].sort((a, b) => a - b);
  const rateText = sorted.length ? `writes per second during the up: min ${sorted[0]}, median ${sorted[Math.floor(sorted.length / 2)]}, max ${sorted[sorted.length - 1]}` : "";
  const preStops = timeline.filter((e) => e.what.startsWith("preStop"));
  const handedOver = preStops.filter((e) => /handing over/.test(e.what)).length;

  // Admin's old password on every pod: an unauthenticated TLS connection, AUTH admin <old> must answer WRONGPASS.
  const refused: string[] = [];
  const accepted: string[] = [];
  const newRefused: string[] = [];
  for (const p of c.pods()) {
    // As the smoke test's unauthenticated probe: no ready check (INFO would get NOAUTH and close the connection),
    // no CLIENT SETINFO, RESP2.
    const r = new Redis({
      host: c.ip(p), port: 6379, ...c.tlsOptions, lazyConnect: true, enableReadyCheck: false, disableClientInfo: true, protocol: 2,
      maxRetriesPerRequest: 0, connectTimeout: 3000, commandTimeout: 3000, retryStrategy: () => null,
    } as any);
    let cause = "";
    r.on("error", (e: Error) => (cause = e.message));
    try {
      await r.connect();
      const a = await r.call("AUTH", "admin", old).then((x) => `accepted: ${x}`, (e: Error) => e.message);
      const b = await r.call("AUTH", "admin", next).then((x) => String(x), (e: Error) => e.message);
      const sa = opts.rotateSmoke ? await r.call("AUTH", "smoke", smokePassword).then((x) => `smoke accepted: ${x}`, (e: Error) => e.message) : "WRONGPASS";
      const sb = opts.rotateSmoke ? await r.call("AUTH", "smoke", nextSmoke).then((x) => String(x), (e: Error) => e.message) : "OK";
      if (/WRONGPASS/.test(a) && /WRONGPASS/.test(sa)) refused.push(p);
      else accepted.push(`${p.replace(`${STS}-`, "pod ")}: ${/WRONGPASS/.test(a) ? sa.slice(0, 80) : a.slice(0, 80)}`);
      if (b !== "OK" || sb !== "OK") newRefused.push(`${p.replace(`${STS}-`, "pod ")}: ${b !== "OK" ? b.slice(0, 80) : `smoke: ${sb.slice(0, 80)}`}`);
    } catch (e) {
      accepted.push(`${p.replace(`${STS}-`, "pod ")}: no answer (${(e as Error).message.slice(0, 60)}${cause ? `; ${cause.slice(0, 80)}` : ""})`);
    } finally {
      r.disconnect();
    }
  }
  const smoke = jobs.find((j) => j.name.includes("smoke"));
  const smokeLog = smoke?.attempts.at(-1)?.logTail ?? "";
  const oldPw = /^old-passwords\s+(\S+)\s+(.*)$/m.exec(smokeLog);
  const summary = (smokeLog.trim().split("\n").filter((l) => /Smoke test (PASSED|FAILED)/.test(l)).slice(-1)[0] ?? "").replace(/ against .*$/, "");
  // The canary of the first deploy ran through this one: the smoke Job read its view through the canary's Service.
  const canaryLine = /^canary\s+(PASS|FAIL|n\/a)\s+(.*)$/m.exec(smokeLog);
  const canaryOn = (config["redis-cluster:canary"] as { enabled?: boolean } | undefined)?.enabled === true;
  const smokeOk = !!smoke?.succeeded && /PASSED/.test(summary) && oldPw?.[1] === "PASS" && (!canaryOn || canaryLine?.[1] === "PASS");
  const detail = {
    upMs, ok: up.run.ok, writes: written.ok + written.errors.length, ok_writes: written.ok, errors: written.errors.map((m, i) => ({ at: rel(written.errorAt[i]), message: m, context: contextAt(timeline, written.errorAt[i]) })),
    slow: written.slow.map((x) => ({ at: rel(x.at), ms: x.ms, context: contextAt(timeline, x.at - x.ms) })),
    timeline: timeline.map((e) => `${rel(e.at)} ${e.kind} ${e.name} ${e.what}`),
    okPerSecondFromUpStart: written.okPerSecond.slice(Math.max(0, Math.floor((t0 - written.startedAt) / 1000))),
  };
  runner.env.log(`rotation detail: ${JSON.stringify(detail)}`);
  const row: Row = {
    scenario: opts.rotateSmoke
      ? "password rotation of admin and the application's user: another `pulumi up` with admin's and smoke's passwords changed, the application (user smoke, TLS, one SET at a time) switching to its new password after rotate-add"
      : "password rotation: second `pulumi up` with admin's password changed, an application writing throughout (user smoke, TLS, one SET at a time)",
    expected: `up ok; 0 failed client requests; ${opts.rotateSmoke ? "admin's and smoke's old passwords" : "admin's old password"} refused (WRONGPASS) on every pod; smoke Job passes its old-passwords check${canaryOn ? " and its canary check (the canary's view of the deploy, 0 acknowledged writes lost)" : ""}`,
    observed:
      `${up.run.ok ? "up ok" : `up FAILED: ${up.run.errors.join(" | ").replace(/\s+/g, " ").slice(0, 400)}`} in ${(upMs / 1000).toFixed(1)} s; ` +
      `${written.ok + written.errors.length} writes, ${written.errors.length} failed${errorText.length ? `: ${errorText.join("; ")}` : ""}; ` +
      `slowest write ${slowest ? `${slowest.ms} ms ending at ${rel(slowest.at)} (${contextAt(timeline, slowest.at - slowest.ms)})` : "< 100 ms"}, ${written.slow.length} writes ≥ 100 ms, ${slowAbove1s.length} ≥ 1 s; ` +
      `${opts.rotateSmoke && switchAt !== undefined ? `application switched at ${rel(switchAt)} (its old client stopped, the new one started in ${switchMs} ms); ` : opts.rotateSmoke ? "application never switched (no rotate-add Complete); " : ""}` +
      `old ${opts.rotateSmoke ? "admin and smoke passwords" : "admin password"} refused on ${refused.length}/${c.pods().length} pods${accepted.length ? ` (NOT: ${accepted.join("; ")})` : ""}, ` +
      `${newRefused.length ? `new one refused: ${newRefused.join("; ")}` : "new one accepted on every pod that answered"}; ` +
      `smoke Job ${smoke ? `${smoke.reason}: ${summary || "no summary line"}; old-passwords ${oldPw ? `${oldPw[1]} ${oldPw[2]}` : "line not found"}${canaryOn ? `; canary ${canaryLine ? `${canaryLine[1]} ${canaryLine[2].slice(0, 600)}` : "line not found"}` : ""}` : "did not run"}`,
    pass: up.run.ok && written.errors.length === 0 && accepted.length === 0 && newRefused.length === 0 && refused.length === c.pods().length && smokeOk && (!opts.rotateSmoke || switchAt !== undefined),
    timeToOkMs: upMs,
    notes: [
      `steps: ${jobText.join(", ")}; ${rollText}; preStop ran on ${preStops.length} (${handedOver} masters handed over)`,
      `writes acknowledged while each pod was replaced (delete to Ready): ${perPod.join(", ") || "—"}; ${rateText}`, `load average ${load0} at the start, ${load1} at the end`],
  };
  return { row, up, config: up.run.ok ? upConfig : config };
}

/** Two writers one after the other (an application that switched clients) as one result, per-second counts aligned to the first. */
function mergeWriters(a: WriterResult, b: WriterResult): WriterResult {
  const okPerSecond = [...a.okPerSecond];
  const shift = Math.floor((b.startedAt - a.startedAt) / 1000);
  b.okPerSecond.forEach((n, i) => {
    while (okPerSecond.length <= i + shift) okPerSecond.push(0);
    okPerSecond[i + shift] += n;
  });
  return { ok: a.ok + b.ok, errors: [...a.errors, ...b.errors], errorAt: [...a.errorAt, ...b.errorAt], slow: [...a.slow, ...b.slow], okPerSecond, startedAt: a.startedAt };
}
