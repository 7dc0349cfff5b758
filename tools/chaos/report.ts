// The chaos report: a Markdown table per fault and an SVG of each shard's availability over time with the nemesis
// events marked.
import type { History } from "../../testbed/workload/history";
import type { Verdict } from "../../testbed/workload/checker";

const s = (ms: number | undefined) => (ms === undefined ? "—" : `${(ms / 1000).toFixed(1)} s`);

export function markdownTable(v: Verdict): string {
  const lines = [
    "| # | fault | target | held | unavailable (target shard / any shard) | time to promotion | recovered after heal | acked lost: WAIT / no WAIT (WAIT saw 0 replicas) |",
    "|---|---|---|---|---|---|---|---|",
  ];
  v.rows.forEach((r, i) => {
    const f = r.fault;
    lines.push(
      `| ${i + 1} | ${f.name} | ${f.target} | ${s(f.healed - f.start)} | ${s(r.targetShardUnavailableMs)} / ${s(r.maxUnavailableMs)} | ${s(f.promotionMs)} | ${f.recoveredOk ? s(f.recovered - f.healed) : "NO"} | ${r.lostWait} / ${r.lostPlain} (${r.lostUnreplicated}) |`,
    );
  });
  return lines.join("\n");
}

export function summary(v: Verdict, h: History): string {
  const o = v.ops;
  return [
    `writes: ${o.total} (${o.ok} ok, ${o.fail} refused, ${o.unknown} timed out) in ${s(h.durationMs)}`,
    `acknowledged: ${o.ackedWait} with WAIT 1 confirmed, ${o.ackedPlain} without WAIT, ${o.ackedUnreplicated} where WAIT saw no replica`,
    `lost: ${v.lost.wait.length} WAIT-acknowledged, ${v.lost.plain.length} acknowledged without WAIT, ${v.lost.unreplicated.length} where WAIT saw no replica`,
    `final redis-cli --cluster check: ${v.clusterCheckClean ? "clean" : "NOT clean"}; replicas equal to masters: ${v.replicasEqual ? "yes" : "NO"} (${v.final.replicas.length} pairs)`,
    `verdict: ${v.failures.length === 0 ? "PASS" : "FAIL"}`,
    ...v.failures.map((f) => `  failure: ${f}`),
    ...v.explained.map((e) => `  explained: ${e}`),
  ].join("\n");
}

const esc = (t: string) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Availability per shard over time: green while writes succeed, red while a shard had none for > 1 s; faults shaded. */
export function availabilitySvg(v: Verdict, h: History): string {
  const width = 1200;
  const left = 90;
  const right = 20;
  const lane = 34;
  const top = 40;
  const bottom = 60;
  const height = top + h.shards * lane + bottom;
  const x = (t: number) => left + (Math.max(0, Math.min(t, h.durationMs)) / Math.max(1, h.durationMs)) * (width - left - right);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="18" font-size="14">Write availability per shard (green: writes succeed; red: none for &gt; 1 s); shaded: nemesis faults</text>`,
  ];
  h.faults.forEach((f, i) => {
    parts.push(`<rect x="${x(f.start)}" y="${top - 6}" width="${Math.max(1, x(f.healed) - x(f.start))}" height="${h.shards * lane + 6}" fill="#f4c542" fill-opacity="0.35"><title>${esc(`${f.name}: ${f.target}`)}</title></rect>`);
    parts.push(`<rect x="${x(f.healed)}" y="${top - 6}" width="${Math.max(0, x(f.recovered) - x(f.healed))}" height="${h.shards * lane + 6}" fill="#9ab" fill-opacity="0.2"/>`);
    parts.push(`<text x="${x(f.start) + 2}" y="${top + h.shards * lane + 14 + (i % 3) * 13}" font-size="10">${i + 1}. ${esc(f.name)}</text>`);
  });
  for (let sh = 0; sh < h.shards; sh++) {
    const y = top + sh * lane;
    parts.push(`<text x="8" y="${y + lane / 2 + 4}">shard ${sh}</text>`);
    const ops = h.ops.filter((o) => o.shard === sh);
    if (ops.length === 0) continue;
    const first = Math.min(...ops.map((o) => o.start));
    const last = Math.max(...ops.map((o) => o.end));
    parts.push(`<rect x="${x(first)}" y="${y + 4}" width="${x(last) - x(first)}" height="${lane - 8}" fill="#3a3"/>`);
    for (const w of v.windows.filter((w) => w.shard === sh)) {
      parts.push(`<rect x="${x(w.start)}" y="${y + 4}" width="${Math.max(1, x(w.end) - x(w.start))}" height="${lane - 8}" fill="#d33"><title>unavailable ${((w.end - w.start) / 1000).toFixed(1)} s</title></rect>`);
    }
  }
  const axisY = top + h.shards * lane + 2;
  const step = h.durationMs > 300_000 ? 60_000 : h.durationMs > 60_000 ? 10_000 : 5_000;
  for (let t = 0; t <= h.durationMs; t += step) parts.push(`<text x="${x(t)}" y="${height - 4}" font-size="9" fill="#555">${t / 1000}s</text>`, `<line x1="${x(t)}" x2="${x(t)}" y1="${axisY}" y2="${axisY + 4}" stroke="#555"/>`);
  parts.push("</svg>");
  return parts.join("\n");
}
