// Hand-written SVG charts for bench/REPORT.md: latency distributions as CDFs, and a time series. No
// dependencies; the output is plain SVG 1.1 that GitHub renders from an <img> or a markdown image.

export interface Series {
  label: string;
  values: readonly number[];
  /** A CSS colour; a palette colour when absent. */
  color?: string;
  /** Drawn dashed (e.g. a baseline). */
  dashed?: boolean;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#7f7f7f'];
const FONT = 'font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif"';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export function quantile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(p * sorted.length)))]!;
}

/** A value for an axis label: 3 significant digits at most, no trailing zeros. */
export function fmtValue(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1000) return `${Math.round(v).toLocaleString('en-US')}`;
  if (a >= 1) return String(Number(v.toPrecision(3)));
  return String(Number(v.toPrecision(2)));
}

/**
 * Ticks for a linear axis over [lo, hi]: about 6 round steps (1, 2 or 5 × 10^k), from the last step at or
 * below lo to the first at or above hi, so the axis covers the data.
 */
export function linearTicks(lo: number, hi: number): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / 6;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw)!;
  const ticks: number[] = [];
  const top = Math.ceil(hi / step - 1e-9) * step;
  for (let t = Math.floor(lo / step + 1e-9) * step; t <= top + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
}

/** Ticks for a log axis over [lo, hi] (both > 0): every decade, with 2 and 5 between when few decades. */
export function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  const d0 = Math.floor(Math.log10(lo));
  const d1 = Math.ceil(Math.log10(hi));
  const mults = d1 - d0 <= 3 ? [1, 2, 5] : [1];
  for (let d = d0; d <= d1; d++) {
    for (const m of mults) {
      const t = m * 10 ** d;
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(Number(t.toPrecision(12)));
    }
  }
  return ticks;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function frameOf(width: number, height: number, legendLines: number): Frame {
  return { width, height, left: 64, right: width - 24, top: 44, bottom: height - 56 - legendLines * 18 };
}

/**
 * Empirical CDFs of `series` on one chart: x is the value (log scale when `logX`; values ≤ 0 are then not
 * drawn but still counted, and the legend says how many), y the share of samples ≤ x on a percentile axis
 * that stretches the tail (-log10(1 − p): p50, p90, p99, p99.9 evenly apart, up to what the sample count
 * supports). Dashed guides at p50 and p99.
 */
export function cdfChart(options: {
  title: string;
  xLabel: string;
  series: readonly Series[];
  logX?: boolean;
  width?: number;
  height?: number;
}): string {
  const width = options.width ?? 760;
  const series = options.series.filter((s) => s.values.some(Number.isFinite));
  const height = options.height ?? 420 + series.length * 18;
  const f = frameOf(width, height, series.length);
  const sorted = series.map((s) => [...s.values].filter(Number.isFinite).sort((a, b) => a - b));
  const all = sorted.flat();
  const logX = options.logX === true && all.some((v) => v > 0);
  const shown = sorted.map((v) => (logX ? v.filter((x) => x > 0) : v));
  const flat = shown.flat();
  let lo = flat.length > 0 ? Math.min(...shown.filter((v) => v.length > 0).map((v) => v[0]!)) : 0;
  let hi = flat.length > 0 ? Math.max(...shown.filter((v) => v.length > 0).map((v) => v[v.length - 1]!)) : 1;
  if (logX) {
    // Half-decade bounds around the data.
    lo = 10 ** (Math.floor(Math.log10(lo) * 2) / 2);
    hi = 10 ** (Math.ceil(Math.log10(hi) * 2) / 2);
    if (hi <= lo) hi = lo * 10;
  } else {
    lo = Math.min(0, lo);
    if (hi <= lo) hi = lo + 1;
    const ticks = linearTicks(lo, hi);
    lo = ticks[0]!;
    hi = ticks[ticks.length - 1]!;
  }
  const x = (v: number) =>
    logX
      ? f.left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (f.right - f.left)
      : f.left + ((v - lo) / (hi - lo)) * (f.right - f.left);
  // The y axis stretches the tail: height ∝ -log10(1 - p), so p50, p90, p99 and p99.9 are evenly apart.
  const largest = Math.max(...sorted.map((v) => v.length));
  const yMax = Math.min(4, Math.max(2, Math.ceil(Math.log10(Math.max(largest, 1)))));
  const tail = (p: number) => Math.min(yMax, p >= 1 ? yMax : -Math.log10(1 - p));
  const y = (p: number) => f.bottom - (tail(p) / yMax) * (f.bottom - f.top);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<title>${esc(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(options.title)}</text>`,
  );
  // Grid and axes.
  const xTicks = logX ? logTicks(lo, hi) : linearTicks(lo, hi);
  for (const t of xTicks) {
    const px = x(t).toFixed(1);
    out.push(
      `<line x1="${px}" y1="${f.top}" x2="${px}" y2="${f.bottom}" stroke="#eee"/>`,
      `<text x="${px}" y="${f.bottom + 16}" text-anchor="middle" fill="#333">${fmtValue(t)}</text>`,
    );
  }
  const yTicks: [number, string][] = [
    [0, 'p0'],
    [0.5, 'p50'],
    [0.75, 'p75'],
    [0.9, 'p90'],
    [0.99, 'p99'],
    [0.999, 'p99.9'],
    [0.9999, 'p99.99'],
  ];
  for (const [p, label] of yTicks.filter(([p]) => p === 0 || -Math.log10(1 - p) <= yMax + 1e-9)) {
    const py = y(p).toFixed(1);
    const guide = p === 0.5 || p === 0.99;
    out.push(
      `<line x1="${f.left}" y1="${py}" x2="${f.right}" y2="${py}" stroke="${guide ? '#bbb' : '#eee'}"${guide ? ' stroke-dasharray="4 3"' : ''}/>`,
      `<text x="${f.left - 6}" y="${(y(p) + 4).toFixed(1)}" text-anchor="end" fill="#333">${label}</text>`,
    );
  }
  out.push(
    `<rect x="${f.left}" y="${f.top}" width="${f.right - f.left}" height="${f.bottom - f.top}" fill="none" stroke="#888"/>`,
    `<text x="${(f.left + f.right) / 2}" y="${f.bottom + 34}" text-anchor="middle">${esc(options.xLabel)}${logX ? ' (log scale)' : ''}</text>`,
    `<text transform="translate(16 ${(f.top + f.bottom) / 2}) rotate(-90)" text-anchor="middle">percentile (share of samples ≤ x; tail stretched)</text>`,
  );
  // One step line per series: the fraction of all samples ≤ x, at ~600 levels evenly spread on the tail axis
  // (so the tail keeps its detail), every sample when there are fewer.
  series.forEach((s, i) => {
    const v = shown[i]!;
    if (v.length === 0) return;
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const total = sorted[i]!.length;
    const below = total - v.length; // left out (≤ 0 on a log axis): counted, not drawn
    const n = v.length;
    const picks = new Set<number>();
    if (n <= 1200) for (let j = 0; j < n; j++) picks.add(j);
    else {
      for (let k = 0; k <= 600; k++) {
        const p = 1 - 10 ** (-(k / 600) * yMax);
        picks.add(Math.min(n - 1, Math.max(0, Math.floor(p * total) - below)));
      }
      picks.add(n - 1);
    }
    const idx = [...picks].sort((a, b) => a - b);
    const pts: string[] = [`${x(v[0]!).toFixed(1)},${y(below / total).toFixed(1)}`];
    let prevP = below / total;
    for (const j of idx) {
      const px = x(v[j]!).toFixed(1);
      const p = (below + j + 1) / total;
      pts.push(`${px},${y(prevP).toFixed(1)}`, `${px},${y(p).toFixed(1)}`);
      prevP = p;
    }
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="1.8"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${pts.join(' ')}"/>`,
    );
  });
  // Legend with n, p50, p99 (over every sample, the left-out ones included).
  series.forEach((s, i) => {
    const all = sorted[i]!;
    const left = all.length - shown[i]!.length;
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const ly = f.bottom + 52 + i * 18;
    out.push(
      `<line x1="${f.left}" y1="${ly - 4}" x2="${f.left + 26}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
      `<text x="${f.left + 34}" y="${ly}">${esc(
        `${s.label} — n=${all.length}, p50 ${fmtValue(quantile(all, 0.5))}, p99 ${fmtValue(quantile(all, 0.99))}, max ${fmtValue(all[all.length - 1]!)}` +
          (left > 0 ? ` (${left} ≤ 0 not drawn)` : ''),
      )}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Lines of y over x (e.g. RSS over time), linear axes, y from 0. */
export function lineChart(options: {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly { label: string; xs: readonly number[]; ys: readonly number[]; color?: string }[];
  /** A horizontal dashed line (e.g. a bound), with its label. */
  guide?: { y: number; label: string };
  /** A vertical dotted line (e.g. the end of a warm-up), with its label. */
  marker?: { x: number; label: string };
  width?: number;
  height?: number;
}): string {
  const width = options.width ?? 760;
  const height = options.height ?? 380 + options.series.length * 18;
  const f = frameOf(width, height, options.series.length);
  const xs = options.series.flatMap((s) => s.xs).filter(Number.isFinite);
  const ys = options.series.flatMap((s) => s.ys).filter(Number.isFinite);
  if (options.guide) ys.push(options.guide.y);
  const xTicks = linearTicks(0, Math.max(1, ...xs));
  const yTicks = linearTicks(0, Math.max(1, ...ys) * 1.02);
  const xHi = xTicks[xTicks.length - 1]!;
  const yHi = yTicks[yTicks.length - 1]!;
  const x = (v: number) => f.left + (v / xHi) * (f.right - f.left);
  const y = (v: number) => f.bottom - (v / yHi) * (f.bottom - f.top);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ${FONT} font-size="12">`,
    `<title>${esc(options.title)}</title>`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="600">${esc(options.title)}</text>`,
  ];
  for (const t of xTicks) {
    out.push(
      `<line x1="${x(t).toFixed(1)}" y1="${f.top}" x2="${x(t).toFixed(1)}" y2="${f.bottom}" stroke="#eee"/>`,
      `<text x="${x(t).toFixed(1)}" y="${f.bottom + 16}" text-anchor="middle" fill="#333">${fmtValue(t)}</text>`,
    );
  }
  for (const t of yTicks) {
    out.push(
      `<line x1="${f.left}" y1="${y(t).toFixed(1)}" x2="${f.right}" y2="${y(t).toFixed(1)}" stroke="#eee"/>`,
      `<text x="${f.left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end" fill="#333">${fmtValue(t)}</text>`,
    );
  }
  out.push(
    `<rect x="${f.left}" y="${f.top}" width="${f.right - f.left}" height="${f.bottom - f.top}" fill="none" stroke="#888"/>`,
    `<text x="${(f.left + f.right) / 2}" y="${f.bottom + 34}" text-anchor="middle">${esc(options.xLabel)}</text>`,
    `<text transform="translate(16 ${(f.top + f.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(options.yLabel)}</text>`,
  );
  if (options.guide) {
    const gy = y(options.guide.y).toFixed(1);
    out.push(
      `<line x1="${f.left}" y1="${gy}" x2="${f.right}" y2="${gy}" stroke="#d62728" stroke-dasharray="5 4"/>`,
      `<text x="${f.right - 4}" y="${(y(options.guide.y) - 5).toFixed(1)}" text-anchor="end" fill="#d62728">${esc(options.guide.label)}</text>`,
    );
  }
  if (options.marker) {
    const mx = x(options.marker.x).toFixed(1);
    out.push(
      `<line x1="${mx}" y1="${f.top}" x2="${mx}" y2="${f.bottom}" stroke="#555" stroke-dasharray="2 3"/>`,
      `<text x="${(x(options.marker.x) + 4).toFixed(1)}" y="${f.top + 14}" fill="#555">${esc(options.marker.label)}</text>`,
    );
  }
  options.series.forEach((s, i) => {
    const color = s.color ?? PALETTE[i % PALETTE.length]!;
    const pts = s.xs
      .map((xv, k) => [xv, s.ys[k]!] as const)
      .filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b))
      .map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${pts.join(' ')}"/>`);
    const ly = f.bottom + 52 + i * 18;
    out.push(
      `<line x1="${f.left}" y1="${ly - 4}" x2="${f.left + 26}" y2="${ly - 4}" stroke="${color}" stroke-width="2.5"/>`,
      `<text x="${f.left + 34}" y="${ly}">${esc(s.label)}</text>`,
    );
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
