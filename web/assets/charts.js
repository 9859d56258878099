// Small SVG line charts for the wallboard: no library, no inline script or style (the CSP
// allows only same-origin files); colours come from classes in wallboard.css.
const NS = 'http://www.w3.org/2000/svg';

function el(name, attrs, text) {
  const e = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// level classifies a value against thresholds: 'ok', 'warn' or 'bad'. higherIsBetter says
// which way the thresholds go (service level: higher is better; waiting, answer time: lower).
export function level(v, warn, bad, higherIsBetter) {
  if (v === null || v === undefined) return 'none';
  if (higherIsBetter) return v >= warn ? 'ok' : v >= bad ? 'warn' : 'bad';
  return v < warn ? 'ok' : v < bad ? 'warn' : 'bad';
}

// lineChart draws points [{t, v}] (v may be null: a gap) over the last hour ending at now
// (Unix ms) into a new <svg>, with a dashed line at threshold (if any); each point is
// coloured by cls(v). label names the chart for screen readers.
export function lineChart({ points, now, max, threshold, cls, label, format }) {
  const W = 300, H = 90, L = 34, B = 14, T = 6;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': label });
  const from = now - 3600e3;
  const top = Math.max(max || 0, ...points.map((p) => p.v || 0), threshold || 0) || 1;
  const x = (t) => L + ((t - from) / 3600e3) * (W - L - 2);
  const y = (v) => T + (1 - v / top) * (H - T - B);
  svg.append(el('line', { x1: L, y1: y(0), x2: W - 2, y2: y(0), class: 'axis' }));
  svg.append(el('text', { x: L - 3, y: y(top) + 8, class: 'tick', 'text-anchor': 'end' }, format(top)));
  svg.append(el('text', { x: L - 3, y: y(0), class: 'tick', 'text-anchor': 'end' }, format(0)));
  svg.append(el('text', { x: L, y: H - 2, class: 'tick' }, '-60 min'));
  svg.append(el('text', { x: W - 2, y: H - 2, class: 'tick', 'text-anchor': 'end' }, 'now'));
  if (threshold !== undefined && threshold !== null) {
    svg.append(el('line', { x1: L, y1: y(threshold), x2: W - 2, y2: y(threshold), class: 'threshold' }));
  }
  let d = '';
  let pen = false;
  for (const p of points) {
    if (p.t < from) continue;
    if (p.v === null || p.v === undefined) { pen = false; continue; }
    d += `${pen ? 'L' : 'M'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`;
    pen = true;
  }
  if (d) svg.append(el('path', { d, class: 'line' }));
  for (const p of points) {
    if (p.t < from || p.v === null || p.v === undefined) continue;
    const c = el('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 1.8, class: `pt ${cls(p.v)}` });
    c.append(el('title', {}, `${new Date(p.t).toLocaleTimeString()}: ${format(p.v)}`));
    svg.append(c);
  }
  return svg;
}
