// A small SVG line chart: a few series over shared x values, axes labelled at their ends. Each
// series names a CSS class (its colour follows the page's light or dark palette).

const NS = 'http://www.w3.org/2000/svg';
const W = 320;
const H = 120;
const PAD = { left: 34, right: 6, top: 6, bottom: 16 };

function el(name, attrs, text) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const short = (v) => (v >= 1000 ? `${(v / 1000).toFixed(v >= 10000 ? 0 : 1)}k` : v >= 10 ? v.toFixed(0) : v.toFixed(v >= 1 ? 1 : 2));

/**
 * Draws `series` ([{ name, cls, points: [[x, y], ...] }]) into `svg`; xLabel formats the x ends.
 * The viewBox is fixed, so redrawing never changes the page's layout.
 */
export function drawLines(svg, series, xLabel = short) {
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  const all = series.flatMap((s) => s.points);
  const nodes = [];
  const x0 = PAD.left;
  const x1 = W - PAD.right;
  const y0 = H - PAD.bottom;
  const y1 = PAD.top;
  nodes.push(el('line', { class: 'axis', x1: x0, y1: y0, x2: x1, y2: y0 }), el('line', { class: 'axis', x1: x0, y1: y0, x2: x0, y2: y1 }));
  if (all.length === 0) {
    nodes.push(el('text', { x: (x0 + x1) / 2, y: (y0 + y1) / 2, 'text-anchor': 'middle' }, 'no data yet'));
    svg.replaceChildren(...nodes);
    return;
  }
  const xs = all.map((p) => p[0]);
  const minX = Math.min(...xs);
  const maxX = Math.max(...xs, minX + 1e-9);
  const maxY = Math.max(...all.map((p) => p[1]), 1e-9);
  const sx = (x) => x0 + ((x - minX) / (maxX - minX || 1)) * (x1 - x0);
  const sy = (y) => y0 - (y / maxY) * (y0 - y1);
  nodes.push(
    el('text', { x: x0 - 3, y: y1 + 8, 'text-anchor': 'end' }, short(maxY)),
    el('text', { x: x0 - 3, y: y0, 'text-anchor': 'end' }, '0'),
    el('text', { x: x0, y: H - 3 }, xLabel(minX)),
    el('text', { x: x1, y: H - 3, 'text-anchor': 'end' }, xLabel(maxX)),
  );
  let legendX = x0 + 6;
  for (const s of series) {
    if (s.points.length > 0) {
      const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join('');
      nodes.push(el('path', { d, class: `line ${s.cls}` }));
    }
    nodes.push(el('text', { x: legendX, y: y1 + 8, class: `key ${s.cls}` }, s.name));
    legendX += s.name.length * 6 + 12;
  }
  svg.replaceChildren(...nodes);
}
