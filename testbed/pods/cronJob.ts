// A CronJob as the pods runner keeps it: stored once checked (the schedule as the API server parses it, the policy
// fields, the job template as a Job), and run only on demand (runCronJob: its job template as a Job, through ./job.ts,
// as `kubectl create job --from=cronjob/<name>` does). Nothing runs it on its schedule: no clock-driven controller.
import { randomBytes } from "node:crypto";
import { Unemulated } from "../refuse";
import { checkJob } from "./job";
import { refuse, type Obj } from "./spec";

const fail = (where: string, msg: string): never => {
  throw new Unemulated(`pods runner: ${where}${msg}`);
};

// The 5 fields of a standard cron line (robfig/cron's standard parser, the one the CronJob controller uses).
const FIELDS: { name: string; min: number; max: number; names?: string[]; question?: boolean }[] = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31, question: true },
  { name: "month", min: 1, max: 12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] },
  { name: "day of week", min: 0, max: 6, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], question: true },
];
const MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

/** Why `schedule` is not a cron schedule the CronJob controller accepts, or undefined when it is. */
export function scheduleError(schedule: unknown): string | undefined {
  if (typeof schedule !== "string" || schedule.trim() === "") return "must be a non-empty string";
  const s = schedule.trim();
  if (s.startsWith("@")) return MACROS.includes(s) ? undefined : `unknown descriptor ${s} (known: ${MACROS.join(", ")})`;
  if (/^(CRON_)?TZ=/.test(s)) return "a time zone in the schedule is not allowed (the API server refuses it; spec.timeZone is not implemented either)";
  const parts = s.split(/\s+/);
  if (parts.length !== 5) return `${parts.length} fields, a cron schedule has 5 (minute hour day-of-month month day-of-week)`;
  for (const [i, f] of FIELDS.entries()) {
    const value = (v: string): number | undefined => {
      const named = f.names?.indexOf(v.toUpperCase()) ?? -1;
      if (named >= 0) return named + (f.name === "month" ? 1 : 0);
      return /^\d+$/.test(v) && Number(v) >= f.min && Number(v) <= f.max ? Number(v) : undefined;
    };
    for (const item of parts[i].split(",")) {
      const m = /^([^/]+)(?:\/(\d+))?$/.exec(item);
      const bad = `${f.name} '${parts[i]}': '${item}' is not *, a value ${f.min}-${f.max}${f.names ? " or a name" : ""}, a range or a step`;
      if (!m || (m[2] !== undefined && Number(m[2]) < 1)) return bad;
      if (m[1] === "*" || (m[1] === "?" && f.question)) continue;
      const [a, b, ...rest] = m[1].split("-");
      const lo = value(a);
      const hi = b === undefined ? lo : value(b);
      if (rest.length > 0 || lo === undefined || hi === undefined || lo > hi) return bad;
    }
  }
  return undefined;
}

/** What the runner implements of a CronJob's spec; everything else is refused by name. */
export function checkCronJob(cj: Obj): void {
  const name = cj.metadata?.name;
  const where = `CronJob ${name}.spec`;
  const spec = cj.spec ?? {};
  refuse(where, spec, ["schedule", "concurrencyPolicy", "suspend", "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "jobTemplate"]);
  const bad = scheduleError(spec.schedule);
  if (bad) throw new Error(`pods runner: ${where}.schedule ${JSON.stringify(spec.schedule)}: ${bad} (the API server refuses it)`);
  const policy = spec.concurrencyPolicy ?? "Allow";
  if (policy === "Replace") fail(where, ".concurrencyPolicy Replace: not implemented (Allow and Forbid are)");
  if (policy !== "Allow" && policy !== "Forbid") fail(where, `.concurrencyPolicy ${policy}: Allow, Forbid or Replace`);
  if (spec.suspend !== undefined && typeof spec.suspend !== "boolean") fail(where, `.suspend ${spec.suspend}: a boolean`);
  for (const k of ["successfulJobsHistoryLimit", "failedJobsHistoryLimit"]) {
    if (spec[k] !== undefined && !(Number.isInteger(spec[k]) && spec[k] >= 0)) fail(where, `.${k} ${spec[k]}: a non-negative integer`);
  }
  refuse(`${where}.jobTemplate`, spec.jobTemplate, ["metadata", "spec"]);
  refuse(`${where}.jobTemplate.metadata`, spec.jobTemplate?.metadata, ["labels", "annotations"]);
  if (!spec.jobTemplate?.spec) fail(where, ".jobTemplate.spec must be set");
  checkJob(jobOf(cj, `${name}-template`));
}

/** The Job a run of the CronJob creates (named <cronjob>-<random>; the controller's own names carry the scheduled minute). */
export function jobOf(cj: Obj, jobName = `${cj.metadata.name}-${randomBytes(4).toString("hex")}`): Obj {
  const t = cj.spec.jobTemplate;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: jobName, namespace: cj.metadata.namespace, labels: t.metadata?.labels, annotations: t.metadata?.annotations },
    spec: t.spec,
  };
}
