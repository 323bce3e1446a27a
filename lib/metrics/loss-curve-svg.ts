/**
 * Loss curves of a pipeline's stages as one SVG: a shared iteration axis (the counter is global across stages), one
 * colour per stage, a faint raw curve under a TensorBoard-style smoothed one, dashed vertical lines with the stage
 * name where each stage starts, linear or log loss axis. Self-contained (no fonts or scripts beyond generic
 * sans-serif), so it opens in a browser or converts with rsvg-convert.
 */
import type { LossSeries } from './loss-log';

export interface LossCurveOptions {
  width?: number;
  height?: number;
  title?: string;
  /** Logarithmic loss axis (non-positive losses are left out). */
  logScale?: boolean;
  /**
   * Exponential-moving-average weight in [0, 1), as TensorBoard's slider; 0 draws the raw curve only. Default: per
   * stage, an average over about 2% of its points (at least 0.6), so long noisy curves still read as a trend.
   */
  smoothing?: number;
  /** At most this many vertices per drawn polyline (longer curves are thinned, keeping each bucket's extremes). */
  maxPointsPerLine?: number;
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];
const FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"';
/** Average glyph width of the 12px font, for sizing the legend; names longer than LEGEND_MAX_CHARS are shortened. */
const CHAR_WIDTH = 7.2;
const LEGEND_MAX_CHARS = 26;
/** A white outline behind text drawn over curves, so labels stay readable. */
const HALO = 'stroke="white" stroke-width="3" stroke-linejoin="round" paint-order="stroke"';

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] ?? c);
}

function formatNumber(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

/** About `count` round-numbered ticks covering [lo, hi], at least `minStep` apart (1 for iterations). */
function linearTicks(lo: number, hi: number, count: number, minStep = 0): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = Math.max(span / count, minStep);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  const decades = Math.log10(hi / lo);
  const mantissas = decades <= 1 ? [1, 2, 3, 5] : decades <= 3 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mantissas) {
      const t = Number((m * 10 ** e).toPrecision(12));
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(t);
    }
  }
  return ticks;
}

/** TensorBoard's debiased exponential moving average. */
function smooth(points: [number, number][], weight: number): [number, number][] {
  let last = 0;
  let debias = 0;
  return points.map(([x, y]) => {
    last = last * weight + (1 - weight) * y;
    debias = debias * weight + (1 - weight);
    return [x, last / debias];
  });
}

/** At most ~max points: per bucket, the minimum and the maximum in their original order. */
function thin(points: [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points;
  const buckets = Math.max(1, Math.floor(max / 2));
  const size = points.length / buckets;
  const out: [number, number][] = [];
  for (let b = 0; b < buckets; b++) {
    const slice = points.slice(Math.floor(b * size), Math.floor((b + 1) * size));
    if (slice.length === 0) continue;
    let lo = slice[0];
    let hi = slice[0];
    for (const p of slice) {
      if (p[1] < lo[1]) lo = p;
      if (p[1] > hi[1]) hi = p;
    }
    out.push(...(lo[0] <= hi[0] ? [lo, hi] : [hi, lo]).filter((p, i, a) => i === 0 || p !== a[0]));
  }
  return out;
}

/** At most ~max evenly spaced points (for curves that are already smooth), keeping the last. */
function sample(points: [number, number][], max: number): [number, number][] {
  if (points.length <= max) return points;
  const step = points.length / max;
  const out: [number, number][] = [];
  for (let i = 0; i < max; i++) out.push(points[Math.floor(i * step)]);
  out.push(points[points.length - 1]);
  return out;
}

function polyline(points: [number, number][], sx: (x: number) => number, sy: (y: number) => number, attrs: string): string {
  const coords = points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
  return `<polyline fill="none" ${attrs} points="${coords}"/>`;
}

export function renderLossCurveSvg(series: LossSeries[], opts: LossCurveOptions = {}): string {
  const width = opts.width ?? 880;
  const height = opts.height ?? 460;
  const logScale = opts.logScale ?? false;
  const smoothingFor = (n: number) => Math.min(Math.max(opts.smoothing ?? Math.max(0.6, 1 - 1 / (0.02 * n)), 0), 0.999);
  const maxPoints = opts.maxPointsPerLine ?? 1500;

  const usable = series.map((s) => ({ stage: s.stage, points: s.points.filter(([, y]) => Number.isFinite(y) && (!logScale || y > 0)) }));
  const all = usable.flatMap((s) => s.points);
  const legendNames = usable.map((s) => (s.stage.length > LEGEND_MAX_CHARS ? `${s.stage.slice(0, LEGEND_MAX_CHARS - 1)}…` : s.stage));
  const legendFinals = usable.map((s) => (s.points.length ? formatNumber(s.points[s.points.length - 1][1]) : ''));
  const legendChars = Math.max(6, ...legendNames.map((n, i) => n.length + 1 + legendFinals[i].length));
  const legendWidth = 40 + CHAR_WIDTH * legendChars;
  const m = { left: 72, right: legendWidth + 16, top: opts.title ? 44 : 20, bottom: 52 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;

  let xLo = all.length ? Math.min(...all.map((p) => p[0])) : 0;
  let xHi = all.length ? Math.max(...all.map((p) => p[0])) : 1;
  if (xHi === xLo) [xLo, xHi] = [xLo - 1, xHi + 1];
  let yLo = all.length ? Math.min(...all.map((p) => p[1])) : logScale ? 0.1 : 0;
  let yHi = all.length ? Math.max(...all.map((p) => p[1])) : 1;
  if (logScale) {
    if (yHi / yLo < 1.5) [yLo, yHi] = [yLo / 1.25, yHi * 1.25];
  } else {
    const pad = (yHi - yLo) * 0.05 || Math.abs(yHi) * 0.1 || 1;
    [yLo, yHi] = [yLo >= 0 && yLo - pad < 0 ? 0 : yLo - pad, yHi + pad];
  }
  const ty = (y: number) => (logScale ? Math.log10(y) : y);
  const sx = (x: number) => m.left + ((x - xLo) / (xHi - xLo)) * plotW;
  const sy = (y: number) => m.top + plotH - ((ty(y) - ty(yLo)) / (ty(yHi) - ty(yLo))) * plotH;

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  if (opts.title) out.push(`<text x="${m.left}" y="26" font-size="15" font-weight="bold" fill="#222">${escapeXml(opts.title)}</text>`);

  // Grid and axes.
  out.push('<g class="axes" stroke="#e4e4e4" stroke-width="1">');
  const xTicks = linearTicks(xLo, xHi, Math.max(2, Math.round(plotW / 90)), 1).filter((t) => t >= xLo && t <= xHi);
  const yTicks = (logScale ? logTicks(yLo, yHi) : linearTicks(yLo, yHi, Math.max(2, Math.round(plotH / 50)))).filter((t) => t >= yLo && t <= yHi);
  for (const t of xTicks) out.push(`<line x1="${sx(t).toFixed(1)}" y1="${m.top}" x2="${sx(t).toFixed(1)}" y2="${m.top + plotH}"/>`);
  for (const t of yTicks) out.push(`<line x1="${m.left}" y1="${sy(t).toFixed(1)}" x2="${m.left + plotW}" y2="${sy(t).toFixed(1)}"/>`);
  out.push('</g>');
  out.push(`<rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#555"/>`);
  out.push('<g class="tick-labels" fill="#333">');
  for (const t of xTicks) out.push(`<text x="${sx(t).toFixed(1)}" y="${m.top + plotH + 18}" text-anchor="middle">${formatNumber(t)}</text>`);
  for (const t of yTicks) out.push(`<text x="${m.left - 8}" y="${(sy(t) + 4).toFixed(1)}" text-anchor="end">${formatNumber(t)}</text>`);
  out.push('</g>');
  out.push(`<text x="${m.left + plotW / 2}" y="${height - 12}" text-anchor="middle" fill="#222">iteration</text>`);
  out.push(`<text transform="translate(18 ${m.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#222">loss${logScale ? ' (log scale)' : ''}</text>`);

  // Stage boundaries: a dashed line where each stage's first logged iteration is. Labels go right of their line
  // (left of it near the right edge), one row lower whenever they would overlap a label already placed.
  out.push('<g class="stage-boundaries">');
  const rowEnds: number[] = [];
  const stageLabels: string[] = []; // drawn after the curves, on top
  usable.forEach((s, i) => {
    if (s.points.length === 0) return;
    const x = sx(s.points[0][0]);
    const colour = PALETTE[i % PALETTE.length];
    if (s.points[0][0] > xLo) out.push(`<line x1="${x.toFixed(1)}" y1="${m.top}" x2="${x.toFixed(1)}" y2="${m.top + plotH}" stroke="${colour}" stroke-width="1.2" stroke-dasharray="5,4"/>`);
    const labelWidth = 6.6 * s.stage.length;
    const start = x + 4 + labelWidth <= m.left + plotW ? x + 4 : x - 4 - labelWidth;
    let row = 0;
    while (rowEnds[row] !== undefined && start < rowEnds[row] + 6) row++;
    rowEnds[row] = start + labelWidth;
    stageLabels.push(`<text x="${start.toFixed(1)}" y="${m.top + 14 + row * 14}" fill="${colour}" font-size="11" ${HALO}>${escapeXml(s.stage)}</text>`);
  });
  out.push('</g>');

  // Curves, clipped to the plot area.
  out.push(`<clipPath id="plot-area"><rect x="${m.left}" y="${m.top}" width="${plotW}" height="${plotH}"/></clipPath>`);
  usable.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    out.push(`<g class="series" data-stage="${escapeXml(s.stage)}" clip-path="url(#plot-area)">`);
    if (s.points.length > 0) {
      const weight = smoothingFor(s.points.length);
      const smoothed = weight > 0 && s.points.length > 10;
      out.push(polyline(thin(s.points, maxPoints), sx, sy, `stroke="${colour}" stroke-width="${smoothed ? 1 : 1.6}" stroke-opacity="${smoothed ? 0.3 : 1}"`));
      if (s.points.length === 1) out.push(`<circle cx="${sx(s.points[0][0]).toFixed(1)}" cy="${sy(s.points[0][1]).toFixed(1)}" r="3" fill="${colour}"/>`);
      if (smoothed) out.push(polyline(sample(smooth(s.points, weight), maxPoints), sx, sy, `stroke="${colour}" stroke-width="2"`));
    }
    out.push('</g>');
  });

  out.push(`<g class="stage-labels">`, ...stageLabels, '</g>');

  // Legend: stage name, final (smoothed when drawn smoothed) loss.
  out.push('<g class="legend">');
  usable.forEach((s, i) => {
    const y = m.top + 10 + i * 20;
    const x = width - m.right + 14;
    const colour = PALETTE[i % PALETTE.length];
    out.push(`<line x1="${x}" y1="${y}" x2="${x + 18}" y2="${y}" stroke="${colour}" stroke-width="3"/>`);
    out.push(`<text x="${x + 24}" y="${y + 4}" fill="#222"><title>${escapeXml(s.stage)}</title>${escapeXml(legendNames[i])} <tspan fill="#777">${legendFinals[i]}</tspan></text>`);
  });
  out.push('</g>');
  if (all.length === 0) out.push(`<text x="${m.left + plotW / 2}" y="${m.top + plotH / 2}" text-anchor="middle" fill="#777">no loss logged yet</text>`);
  out.push('</svg>');
  return out.join('\n') + '\n';
}
