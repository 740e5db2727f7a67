/**
 * The fork-rate chart (issue 7): cycles per second against CPUs (workers for the model, looper
 * processes for the kernel), one line per pid-namespace depth, model solid and kernel fork dashed,
 * on a log scale so both fit. Scales, ticks and paths come from d3-scale / d3-shape; the SVG is
 * written as text (no DOM needed), so the file opens in any browser.
 */
import { scaleLog, scalePoint } from 'd3-scale';
import { line } from 'd3-shape';

export interface ChartSeries {
  label: string;
  /** Which family: the model (solid) or a real-kernel mode (dashed). */
  kind: 'model' | 'kernel';
  depth: number;
  points: Array<{ x: number; y: number; min?: number; max?: number }>;
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function fmt(v: number): string {
  if (v >= 1e6) return `${+(v / 1e6).toPrecision(3)}M`;
  if (v >= 1e3) return `${+(v / 1e3).toPrecision(3)}k`;
  return `${+v.toPrecision(3)}`;
}

export function renderForkChart(series: readonly ChartSeries[], o: ChartOptions): string {
  const W = o.width ?? 860;
  const H = o.height ?? 520;
  const m = { top: 64, right: 210, bottom: 56, left: 78 };
  const iw = W - m.left - m.right;
  const ih = H - m.top - m.bottom;
  const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b);
  const ys = series.flatMap((s) => s.points.flatMap((p) => [p.y, p.min ?? p.y, p.max ?? p.y])).filter((v) => v > 0 && Number.isFinite(v));
  const lo = ys.length ? Math.min(...ys) : 1;
  const hi = ys.length ? Math.max(...ys) : 10;
  const x = scalePoint<number>().domain(xs).range([0, iw]).padding(0.3);
  const y = scaleLog().domain([Math.pow(10, Math.floor(Math.log10(lo))), Math.pow(10, Math.ceil(Math.log10(hi)))]).range([ih, 0]).nice();
  const depths = [...new Set(series.map((s) => s.depth))].sort((a, b) => a - b);
  const color = (d: number): string => PALETTE[depths.indexOf(d) % PALETTE.length]!;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  out.push(`<text x="${m.left}" y="26" font-size="16" font-weight="600">${esc(o.title)}</text>`);
  if (o.subtitle) out.push(`<text x="${m.left}" y="46" fill="#555">${esc(o.subtitle)}</text>`);
  out.push(`<g transform="translate(${m.left},${m.top})">`);
  // Grid and y ticks (powers of ten labelled, 2x and 5x as light lines).
  for (const t of y.ticks()) {
    const yy = y(t);
    const major = Math.abs(Math.log10(t) - Math.round(Math.log10(t))) < 1e-9;
    const lead = +t.toPrecision(1) / Math.pow(10, Math.floor(Math.log10(t)));
    if (!major && lead !== 2 && lead !== 5) continue;
    out.push(`<line x1="0" x2="${iw}" y1="${yy.toFixed(1)}" y2="${yy.toFixed(1)}" stroke="${major ? '#ccc' : '#eee'}"/>`);
    out.push(`<text x="-8" y="${(yy + 4).toFixed(1)}" text-anchor="end" fill="${major ? '#333' : '#888'}">${fmt(t)}</text>`);
  }
  for (const v of xs) {
    const xx = x(v)!;
    out.push(`<line x1="${xx}" x2="${xx}" y1="0" y2="${ih}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${xx}" y="${ih + 18}" text-anchor="middle">${v}</text>`);
  }
  out.push(`<line x1="0" x2="${iw}" y1="${ih}" y2="${ih}" stroke="#333"/><line x1="0" x2="0" y1="0" y2="${ih}" stroke="#333"/>`);
  out.push(`<text x="${iw / 2}" y="${ih + 42}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(${-60},${ih / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  const path = line<{ x: number; y: number }>().x((p) => x(p.x)!).y((p) => y(p.y));
  for (const s of series) {
    const pts = s.points.filter((p) => p.y > 0 && xs.includes(p.x)).sort((a, b) => a.x - b.x);
    if (pts.length === 0) continue;
    const c = color(s.depth);
    const dash = s.kind === 'kernel' ? ' stroke-dasharray="6 4"' : '';
    out.push(`<path d="${path(pts)}" fill="none" stroke="${c}" stroke-width="${s.kind === 'model' ? 2.2 : 1.6}"${dash}><title>${esc(s.label)}</title></path>`);
    for (const p of pts) {
      const cx = x(p.x)!;
      const cy = y(p.y);
      if (p.min !== undefined && p.max !== undefined && p.min > 0) {
        out.push(`<line x1="${cx}" x2="${cx}" y1="${y(p.min).toFixed(1)}" y2="${y(p.max).toFixed(1)}" stroke="${c}" stroke-width="1" opacity="0.6"/>`);
      }
      const mark = s.kind === 'model'
        ? `<circle cx="${cx}" cy="${cy.toFixed(1)}" r="3.5" fill="${c}">`
        : `<rect x="${cx - 3}" y="${(cy - 3).toFixed(1)}" width="6" height="6" fill="#fff" stroke="${c}">`;
      out.push(`${mark}<title>${esc(s.label)}, ${p.x}: ${Math.round(p.y).toLocaleString('en-US')} /s${p.min !== undefined ? ` (min ${Math.round(p.min).toLocaleString('en-US')}, max ${Math.round(p.max ?? p.y).toLocaleString('en-US')})` : ''}</title>${s.kind === 'model' ? '</circle>' : '</rect>'}`);
    }
  }
  out.push('</g>');
  // Legend: one row per depth, then the line styles.
  const lx = W - m.right + 24;
  let ly = m.top + 4;
  out.push(`<text x="${lx}" y="${ly}" font-weight="600">pid-namespace depth</text>`);
  ly += 18;
  for (const d of depths) {
    out.push(`<line x1="${lx}" x2="${lx + 26}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color(d)}" stroke-width="2.2"/><text x="${lx + 34}" y="${ly}">depth ${d}</text>`);
    ly += 18;
  }
  ly += 10;
  out.push(`<line x1="${lx}" x2="${lx + 26}" y1="${ly - 4}" y2="${ly - 4}" stroke="#333" stroke-width="2.2"/><circle cx="${lx + 13}" cy="${ly - 4}" r="3.5" fill="#333"/><text x="${lx + 34}" y="${ly}">model (workers)</text>`);
  ly += 18;
  if (series.some((s) => s.kind === 'kernel')) {
    out.push(`<line x1="${lx}" x2="${lx + 26}" y1="${ly - 4}" y2="${ly - 4}" stroke="#333" stroke-width="1.6" stroke-dasharray="6 4"/><rect x="${lx + 10}" y="${ly - 7}" width="6" height="6" fill="#fff" stroke="#333"/><text x="${lx + 34}" y="${ly}">kernel fork (loopers)</text>`);
    ly += 18;
  }
  out.push(`<text x="${lx}" y="${ly + 8}" fill="#777" font-size="11">bars: min..max of the repetitions</text>`);
  out.push('</svg>');
  return out.join('\n');
}
