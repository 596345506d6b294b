// The comparison's two figures: throughput vs. p90 normalized latency, one curve per system
// over the rate sweep (the paper's Figure 9 shape), and where each system's prompt tokens came
// from (reused from cache, computed new, recomputed), as stacked bars.

import { Canvas, type Rgb } from './png.js';

export interface CurvePoint {
  x: number;
  y: number;
}

export interface Curve {
  label: string;
  points: CurvePoint[];
}

const PALETTE: Rgb[] = [[214, 39, 40], [255, 127, 14], [31, 119, 180], [44, 160, 44], [148, 103, 189], [140, 86, 75]];
const INK: Rgb = [30, 30, 30];
const GRID: Rgb = [225, 225, 225];

/** Round tick values covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  // The last tick is the first at or past hi, so every value lies on the axis.
  for (let v = Math.ceil(lo / step) * step; out.length === 0 || out.at(-1)! < hi - step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

function label(v: number): string {
  if (v === 0) return '0';
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 1) return String(Number(v.toFixed(2)));
  return String(Number(v.toPrecision(2)));
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  /** A dashed horizontal reference line (e.g. the latency target). */
  yReference?: { value: number; label: string };
  width?: number;
  height?: number;
}

export function lineChart(curves: readonly Curve[], opts: LineChartOptions): Buffer {
  const W = opts.width ?? 900;
  const H = opts.height ?? 560;
  const c = new Canvas(W, H);
  const left = 110;
  const right = W - 30;
  const top = 60;
  const bottom = H - 110;
  const finite = curves.flatMap((k) => k.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xs = finite.map((p) => p.x);
  // With a reference line the axis stops at 5× it: a system far past it would flatten the others.
  const ys = opts.yReference
    ? [Math.min(Math.max(...finite.map((p) => p.y), opts.yReference.value), 5 * opts.yReference.value)]
    : finite.map((p) => p.y);
  const xTicks = niceTicks(0, Math.max(...xs, 1e-9) * 1.05);
  const yTicks = niceTicks(0, Math.max(...ys, 1e-9) * 1.05);
  const xMax = xTicks.at(-1)!;
  const yMax = yTicks.at(-1)!;
  const px = (x: number) => left + (x / xMax) * (right - left);
  const py = (y: number) => bottom - (Math.min(y, yMax) / yMax) * (bottom - top);

  c.text(left, 20, opts.title, INK, 2);
  for (const t of xTicks) {
    c.line(px(t), top, px(t), bottom, GRID);
    c.text(px(t) - Canvas.textWidth(label(t)) / 2, bottom + 10, label(t), INK);
  }
  for (const t of yTicks) {
    c.line(left, py(t), right, py(t), GRID);
    c.text(left - 10 - Canvas.textWidth(label(t)), py(t) - 7, label(t), INK);
  }
  c.line(left, bottom, right, bottom, INK, 2);
  c.line(left, top, left, bottom, INK, 2);
  c.text((left + right) / 2 - Canvas.textWidth(opts.xLabel) / 2, bottom + 34, opts.xLabel, INK);
  c.textUp(12, (top + bottom) / 2 + Canvas.textWidth(opts.yLabel) / 2, opts.yLabel, INK);
  if (opts.yReference) {
    c.line(left, py(opts.yReference.value), right, py(opts.yReference.value), [120, 120, 120], 2, 8);
    c.text(right - Canvas.textWidth(opts.yReference.label), py(opts.yReference.value) - 18, opts.yReference.label, [90, 90, 90]);
  }
  if (curves.some((k) => k.points.some((p) => !(p.y <= yMax)))) {
    c.text(right - Canvas.textWidth('points past the top are drawn on it'), 40, 'points past the top are drawn on it', [120, 120, 120]);
  }
  curves.forEach((curve, k) => {
    const color = PALETTE[k % PALETTE.length]!;
    // Points off the chart (latency beyond the top, unfinished turns) are drawn at the top edge.
    const pts = curve.points.filter((p) => Number.isFinite(p.x)).map((p) => ({ x: px(p.x), y: Number.isFinite(p.y) ? py(p.y) : top }));
    for (let i = 1; i < pts.length; i++) c.line(pts[i - 1]!.x, pts[i - 1]!.y, pts[i]!.x, pts[i]!.y, color, 3);
    for (const p of pts) c.dot(p.x, p.y, 5, color);
  });
  legend(c, curves.map((k) => k.label), left, H - 50);
  return c.encodePng();
}

function legend(c: Canvas, labels: readonly string[], x: number, y: number): void {
  let cx = x;
  labels.forEach((l, k) => {
    c.fillRect(cx, y, 18, 14, PALETTE[k % PALETTE.length]!);
    c.text(cx + 26, y, l, INK);
    cx += 26 + Canvas.textWidth(l) + 30;
  });
}

export interface StackedBar {
  label: string;
  /** Values per segment, in the order of `segments`. */
  values: number[];
}

/** Horizontal bars, each split into segments scaled to 100% of the bar's total. */
export function stackedBars(bars: readonly StackedBar[], segments: readonly string[], opts: { title: string; width?: number }): Buffer {
  const W = opts.width ?? 900;
  const rowH = 40;
  const H = 110 + bars.length * rowH + 50;
  const c = new Canvas(W, H);
  const left = 20 + Math.max(0, ...bars.map((b) => Canvas.textWidth(b.label))) + 16;
  const right = W - 40;
  const colors: Rgb[] = [[44, 160, 44], [152, 223, 138], [188, 189, 34], [31, 119, 180], [214, 39, 40], [148, 103, 189]];
  c.text(20, 20, opts.title, INK, 2);
  bars.forEach((bar, i) => {
    const y = 70 + i * rowH;
    c.text(20, y + 8, bar.label, INK);
    const total = bar.values.reduce((s, v) => s + v, 0);
    let x = left;
    bar.values.forEach((v, k) => {
      const w = total > 0 ? (v / total) * (right - left) : 0;
      c.fillRect(x, y, w, 28, colors[k % colors.length]!);
      const pct = total > 0 ? `${Math.round((100 * v) / total)}%` : '';
      if (w > Canvas.textWidth(pct) + 8) c.text(x + 4, y + 8, pct, [255, 255, 255]);
      x += w;
    });
    if (total === 0) c.text(left, y + 8, 'no data', [120, 120, 120]);
  });
  let lx = 20;
  const ly = H - 40;
  segments.forEach((s, k) => {
    c.fillRect(lx, ly, 18, 14, colors[k % colors.length]!);
    c.text(lx + 26, ly, s, INK);
    lx += 26 + Canvas.textWidth(s) + 30;
  });
  return c.encodePng();
}
