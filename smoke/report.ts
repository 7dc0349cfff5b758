// Human and machine output of a smoke run: progress lines, the summary table, the failure digest, JSON.
import type { CheckResult, CheckStatus, SmokeReport } from "./types";

const STATUS: Record<CheckStatus, string> = { passed: "PASS", failed: "FAIL", "not-run": "SKIP", "not-applicable": "n/a" };

export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
}

/** "[  12.3s] text": elapsed time since the run started. */
export function progressLine(elapsedMs: number, text: string): string {
  return `[${(elapsedMs / 1000).toFixed(1).padStart(6)}s] ${text}`;
}

/** One line when a check ends. */
export function checkLine(r: CheckResult): string {
  return `${STATUS[r.status]} ${r.name} (${formatMs(r.duration_ms)}): ${r.details}`;
}

/** The table printed at the end, followed by every problem of the failed checks. */
export function summaryTable(report: SmokeReport): string {
  const rows = report.checks.map((c) => [c.name, STATUS[c.status], formatMs(c.duration_ms), c.details]);
  const head = ["check", "result", "time", "details"];
  const width = [0, 1, 2].map((i) => Math.max(head[i].length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) => [r[0].padEnd(width[0]), r[1].padEnd(width[1]), r[2].padStart(width[2]), r[3]].join("  ").trimEnd();
  const lines = [fmt(head), fmt(["-".repeat(width[0]), "-".repeat(width[1]), "-".repeat(width[2]), "-".repeat(7)]), ...rows.map(fmt)];
  const failed = report.checks.filter((c) => c.status === "failed");
  if (failed.length) {
    lines.push("", "Problems:");
    for (const c of failed) for (const p of c.problems.length ? c.problems : [c.details]) lines.push(`  - ${c.name}: ${p}`);
  }
  if (report.error && !failed.some((c) => c.problems.includes(report.error!))) lines.push("", `Error: ${report.error}`);
  const verdict = report.ok ? "PASSED" : "FAILED";
  const count = (s: CheckStatus) => report.checks.filter((c) => c.status === s).length;
  // Every check is counted, so the totals add up to the table's rows; "n/a" (e.g. old-passwords before any rotation)
  // only when there is one, so the usual line and whatever quotes it stay as they were.
  const na = count("not-applicable");
  const counts = `${count("passed")} passed, ${failed.length} failed, ${count("not-run")} not run${na > 0 ? `, ${na} n/a` : ""}`;
  lines.push("", `Smoke test ${verdict} (${counts}) in ${formatMs(report.duration_ms)} against ${report.target.nodes.join(",")} [exit ${report.exit_code}]`);
  return lines.join("\n");
}

/** Compact digest of what failed (stderr; becomes the Pulumi error text). */
export function failureDigest(report: SmokeReport): string {
  if (report.ok) return "";
  const parts = report.checks.filter((c) => c.status === "failed").map((c) => `${c.name}: ${(c.problems.length ? c.problems : [c.details]).join(" | ")}`);
  const failed = report.checks.filter((c) => c.status === "failed");
  if (report.error && !failed.some((c) => c.problems.includes(report.error!))) parts.unshift(report.error);
  return `smoke test FAILED (exit ${report.exit_code}):\n${parts.map((p) => `  - ${p}`).join("\n")}`;
}

export function toJson(report: SmokeReport): string {
  return JSON.stringify(report, null, 2) + "\n";
}

/** Replaces every occurrence of `secret` (defence in depth: nothing is meant to print it). */
export function redact(text: string, secret: string | undefined): string {
  return secret ? text.split(secret).join("***") : text;
}

/**
 * `text` cut to at most `maxBytes` UTF-8 bytes without splitting a character; a cut is marked with "…" (within the
 * limit). Kubernetes keeps 4096 bytes of a termination message, not 4096 characters.
 */
export function truncateBytes(text: string, maxBytes: number): string {
  const buf = Buffer.from(text, "utf8");
  if (buf.length <= maxBytes) return text;
  const mark = "…";
  let end = Math.max(0, maxBytes - Buffer.byteLength(mark));
  // Step back over UTF-8 continuation bytes (10xxxxxx) so the cut falls on a character boundary.
  while (end > 0 && (buf[end] & 0xc0) === 0x80) end--;
  return buf.subarray(0, end).toString("utf8") + mark;
}
