// Line charts as a standalone SVG document (no browser, no native canvas): the plots in docs/benchmarks.md, written by
// bench:scale-cost from the numbers of its run. Panels side by side, each with its own axes.

export interface Series {
  name: string;
  /** [x, y] in data units, in the order they are joined. */
  points: [number, number][];
}

export interface Panel {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** A logarithmic x axis (key counts 10 k .. 1 M). */
  logX?: boolean;
}

/** Size of one panel and its plot area (the rest holds the title, the axes' labels and ticks). */
export const PANEL = { width: 380, height: 280, left: 56, right: 14, top: 34, bottom: 46 };
const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"];

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
const num = (x: number) => Number(x.toFixed(1)).toString();

/** A round upper bound for the y axis and its tick step (1, 2 or 5 × a power of ten, at most six steps). */
export function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const mag = 10 ** Math.floor(Math.log10(max / 6));
  const clean = (x: number) => Number(x.toPrecision(12));
  const step = clean([1, 2, 5, 10].map((f) => f * mag).find((st) => Math.ceil(max / st - 1e-9) <= 6)!);
  return { top: clean(Math.ceil(max / step - 1e-9) * step), step };
}

/** Pixel position of data point (x, y) in a panel placed at offset 0, for the given axis ranges. */
export function position(p: Panel, x: number, y: number, xs: { min: number; max: number }, yTop: number): [number, number] {
  const w = PANEL.width - PANEL.left - PANEL.right;
  const h = PANEL.height - PANEL.top - PANEL.bottom;
  const t = (v: number) => (p.logX ? Math.log10(v) : v);
  const span = t(xs.max) - t(xs.min);
  const fx = span === 0 ? 0.5 : (t(x) - t(xs.min)) / span;
  return [PANEL.left + fx * w, PANEL.top + h - (y / yTop) * h];
}

function panelSvg(p: Panel, offset: number): string {
  const all = p.series.flatMap((s) => s.points);
  if (all.length === 0) throw new Error(`plot "${p.title}": no points`);
  if (p.logX && all.some(([x]) => !(x > 0))) throw new Error(`plot "${p.title}": a logarithmic x axis needs x > 0`);
  const xsSorted = [...new Set(all.map(([x]) => x))].sort((a, b) => a - b);
  const xs = { min: xsSorted[0], max: xsSorted[xsSorted.length - 1] };
  const { top, step } = niceScale(Math.max(...all.map(([, y]) => y)));
  const at = (x: number, y: number) => position(p, x, y, xs, top);
  const h = PANEL.height - PANEL.bottom;
  const out: string[] = [`<g transform="translate(${offset},0)">`];
  out.push(`<text x="${PANEL.width / 2}" y="18" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>`);
  out.push(`<line x1="${PANEL.left}" y1="${h}" x2="${PANEL.width - PANEL.right}" y2="${h}" stroke="#333"/>`);
  out.push(`<line x1="${PANEL.left}" y1="${PANEL.top}" x2="${PANEL.left}" y2="${h}" stroke="#333"/>`);
  for (let v = 0; v <= top + 1e-9; v += step) {
    const [, y] = at(xs.min, v);
    out.push(`<line x1="${PANEL.left}" y1="${num(y)}" x2="${PANEL.width - PANEL.right}" y2="${num(y)}" stroke="#ddd"/>`);
    out.push(`<text x="${PANEL.left - 4}" y="${num(y + 4)}" text-anchor="end">${Number(v.toPrecision(6))}</text>`);
  }
  for (const x of xsSorted) {
    const [px] = at(x, 0);
    out.push(`<text x="${num(px)}" y="${h + 16}" text-anchor="middle">${x >= 1000 ? `${x / 1000} k` : x}</text>`);
  }
  out.push(`<text x="${PANEL.width / 2}" y="${PANEL.height - 8}" text-anchor="middle">${esc(p.xLabel)}</text>`);
  out.push(`<text transform="translate(14,${(PANEL.top + h) / 2}) rotate(-90)" text-anchor="middle">${esc(p.yLabel)}</text>`);
  p.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.map(([x, y]) => at(x, y).map(num).join(",")).join(" ");
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`);
    for (const [x, y] of s.points) {
      const [cx, cy] = at(x, y);
      out.push(`<circle cx="${num(cx)}" cy="${num(cy)}" r="3" fill="${color}"/>`);
    }
    out.push(`<text x="${PANEL.left + 8}" y="${PANEL.top + 12 + i * 14}" fill="${color}">${esc(s.name)}</text>`);
  });
  out.push("</g>");
  return out.join("\n");
}

/** One SVG document with the panels side by side. */
export function svgPlot(panels: Panel[]): string {
  if (panels.length === 0) throw new Error("plot: no panels");
  const width = PANEL.width * panels.length;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${PANEL.height}" viewBox="0 0 ${width} ${PANEL.height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${PANEL.height}" fill="white"/>`,
    ...panels.map((p, i) => panelSvg(p, i * PANEL.width)),
    "</svg>",
    "",
  ].join("\n");
}
