// The SVG plot writer of bench:scale-cost (tools/bench/plot.ts): points land where their values say, a logarithmic
// axis spaces 10 k, 100 k and 1 M evenly, text is escaped, and input it cannot draw is refused by name.
import { test } from "node:test";
import assert from "node:assert/strict";
import { niceScale, PANEL, svgPlot, type Panel } from "../../../tools/bench/plot";

const circles = (svg: string) => [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((m) => [Number(m[1]), Number(m[2])]);

test("y axis: a round top at or above the largest value, at most six steps of 1, 2 or 5 × a power of ten", () => {
  assert.deepEqual(niceScale(3.46), { top: 4, step: 1 });
  assert.deepEqual(niceScale(11.63), { top: 12, step: 2 });
  assert.deepEqual(niceScale(0.48), { top: 0.5, step: 0.1 });
});

test("points: the smallest x at the plot's left edge, the largest at its right, y 0 at the bottom", () => {
  const p: Panel = { title: "t", xLabel: "masters", yLabel: "s", series: [{ name: "a", points: [[3, 0], [96, 4]] }] };
  const [[x0, y0], [x1, y1]] = circles(svgPlot([p]));
  assert.equal(x0, PANEL.left);
  assert.equal(y0, PANEL.height - PANEL.bottom);
  assert.equal(x1, PANEL.width - PANEL.right);
  assert.equal(y1, PANEL.top, "4 is the axis top");
  assert.equal((svgPlot([p]).match(/<polyline /g) ?? []).length, 1);
});

test("a logarithmic x axis spaces 10 k, 100 k and 1 M evenly; a second panel sits beside the first", () => {
  const log: Panel = { title: "keys", xLabel: "keys", yLabel: "s", logX: true, series: [{ name: "step", points: [[10_000, 1], [100_000, 2], [1_000_000, 3]] }] };
  const svg = svgPlot([log, log]);
  const xs = circles(svg).map(([x]) => x);
  assert.equal(xs.length, 6);
  assert.ok(Math.abs(xs[1] - xs[0] - (xs[2] - xs[1])) < 0.2, `even spacing: ${xs.join(", ")}`);
  assert.match(svg, /<g transform="translate\(380,0\)">/);
  assert.match(svg, new RegExp(`width="${2 * PANEL.width}"`));
});

test("names are escaped; no points, or a non-positive x on a log axis, are refused", () => {
  const svg = svgPlot([{ title: "a < b & c", xLabel: "x", yLabel: "y", series: [{ name: '"q"', points: [[1, 1]] }] }]);
  assert.match(svg, /a &lt; b &amp; c/);
  assert.match(svg, /&quot;q&quot;/);
  assert.throws(() => svgPlot([{ title: "empty", xLabel: "x", yLabel: "y", series: [] }]), /plot "empty": no points/);
  assert.throws(() => svgPlot([{ title: "log", xLabel: "x", yLabel: "y", logX: true, series: [{ name: "s", points: [[0, 1]] }] }]), /logarithmic x axis needs x > 0/);
});
