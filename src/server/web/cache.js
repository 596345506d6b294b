// The cache page: polls GET /v1/pensieve/cache about once a second while shown, draws each tier's
// occupancy, rates over the last minutes (from the deltas of the cumulative counters), the Cost(l)
// profile, and one bar per live conversation: its chunks dropped | disk | host | device.

import { getJson } from './api.js';
import { drawLines } from './chart.js';
import { titlesByCacheName } from './chat.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const HISTORY = 120;
const TIERS = ['device', 'host', 'disk'];
const SEGMENTS = ['dropped', 'disk', 'host', 'device'];

let timer = null;
let last = null;
const history = [];


function bytes(n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function renderTiers(view) {
  $('tiers').replaceChildren(
    ...TIERS.map((name) => {
      const t = view.tiers[name];
      const div = document.createElement('div');
      div.className = 'tier';
      div.dataset.tier = name;
      const share = t.capacity_bytes > 0 ? t.used_bytes / t.capacity_bytes : 0;
      const pct = Math.min(100, share * 100);
      div.innerHTML = `<h3></h3><div class="meter" role="meter" aria-valuemin="0" aria-valuemax="100"><span class="${name}"></span></div><div class="figures"></div>`;
      div.querySelector('h3').textContent = name[0].toUpperCase() + name.slice(1);
      const meter = div.querySelector('.meter');
      meter.setAttribute('aria-valuenow', pct.toFixed(0));
      meter.setAttribute('aria-label', `${name} tier used`);
      meter.querySelector('span').style.width = `${pct}%`;
      div.querySelector('.figures').textContent = t.capacity_bytes === 0
        ? 'disabled'
        : `${bytes(t.used_bytes)} of ${bytes(t.capacity_bytes)} · ${t.used_chunks} of ${t.capacity_chunks} chunks`;
      return div;
    }),
  );
}

function renderTotals(view) {
  const rows = [
    ['Running', view.running],
    ['Waiting', view.waiting],
    ['Eviction', view.eviction_policy],
    ['Prefix hits', `${view.prefix_cache_hits} / ${view.prefix_cache_queries}`],
    ['Recomputed tokens', view.recomputed_tokens],
    ['Evicted chunks', view.evicted_chunks],
    ['Swapped out', bytes(view.swap.out_bytes.host + view.swap.out_bytes.disk)],
    ['Swapped in', bytes(view.swap.in_bytes.host + view.swap.in_bytes.disk)],
    ['Preemptions', view.preemptions],
  ];
  $('totals').replaceChildren(
    ...rows.map(([k, v]) => {
      const div = document.createElement('div');
      const dt = document.createElement('dt');
      const dd = document.createElement('dd');
      dt.textContent = k;
      dd.textContent = String(v);
      div.append(dt, dd);
      return div;
    }),
  );
}

function renderLayouts(view) {
  const titles = titlesByCacheName();
  const ul = $('layouts');
  if (view.conversations.length === 0) {
    const li = document.createElement('li');
    li.className = 'empty';
    li.textContent = 'No conversation is cached yet.';
    ul.replaceChildren(li);
    return;
  }
  ul.replaceChildren(
    ...view.conversations.map((c) => {
      const li = document.createElement('li');
      li.className = 'layout';
      li.dataset.conversation = c.id;
      const total = SEGMENTS.reduce((s, k) => s + c.chunks[k], 0);
      for (const k of SEGMENTS) li.dataset[k] = String(c.chunks[k]);
      const label = document.createElement('div');
      label.className = 'label';
      const name = document.createElement('span');
      name.textContent = `${titles.get(c.id) ?? c.id}${c.active ? ' (running)' : ''}`;
      const figures = document.createElement('span');
      const parts = SEGMENTS.filter((k) => c.chunks[k] > 0).map((k) => `${c.chunks[k]} ${k}`);
      figures.textContent = `${c.tokens} tokens · ${parts.join(', ') || 'empty'}`;
      label.append(name, figures);
      const bar = document.createElement('div');
      bar.className = 'bar';
      bar.setAttribute('role', 'img');
      bar.setAttribute('aria-label', `${total} chunks: ${SEGMENTS.map((k) => `${c.chunks[k]} ${k}`).join(', ')}`);
      for (const k of SEGMENTS) {
        if (c.chunks[k] === 0) continue;
        const seg = document.createElement('span');
        seg.className = k;
        seg.style.width = `${(100 * c.chunks[k]) / total}%`;
        bar.append(seg);
      }
      li.append(label, bar);
      return li;
    }),
  );
}

function renderCharts(view) {
  const t0 = history[0]?.time ?? view.time;
  const secs = (p) => (p.time - t0) / 1000;
  const xLabel = (s) => `${Math.round(s)} s`;
  drawLines($('chart-served'), TIERS.map((tier) => ({ name: tier, cls: tier, points: history.map((p) => [secs(p), p.served[tier]]) })), xLabel);
  drawLines($('chart-io'), [
    { name: 'out KiB/s', cls: 'host', points: history.map((p) => [secs(p), p.swapOut / 1024]) },
    { name: 'in KiB/s', cls: 'device', points: history.map((p) => [secs(p), p.swapIn / 1024]) },
    { name: 'recompute tok/s', cls: 'disk', points: history.map((p) => [secs(p), p.recompute]) },
  ], xLabel);
  drawLines($('chart-cost'), [{ name: 'ms per chunk', cls: 'device', points: view.cost_profile.map((p) => [p.context_length, p.ms]) }], (l) => `${Math.round(l)} tok`);
}

/** One poll's rates: what the cumulative counters grew by since the last, per second. */
function record(view) {
  if (last !== null && view.time > last.time) {
    const dt = (view.time - last.time) / 1000;
    const sum = (o) => o.host + o.disk;
    history.push({
      time: view.time,
      served: Object.fromEntries(TIERS.map((t) => [t, Math.max(0, view.served_tokens[t] - last.served_tokens[t]) / dt])),
      swapOut: Math.max(0, sum(view.swap.out_bytes) - sum(last.swap.out_bytes)) / dt,
      swapIn: Math.max(0, sum(view.swap.in_bytes) - sum(last.swap.in_bytes)) / dt,
      recompute: Math.max(0, view.recomputed_tokens - last.recomputed_tokens) / dt,
    });
    if (history.length > HISTORY) history.shift();
  }
  last = view;
}

async function poll() {
  // A hidden tab polls nothing; the next poll after it shows again starts a fresh rate.
  if (document.hidden) {
    last = null;
    if (timer !== null) timer = setTimeout(poll, POLL_MS);
    return;
  }
  try {
    const view = await getJson('/pensieve/cache');
    record(view);
    renderTiers(view);
    renderTotals(view);
    renderLayouts(view);
    renderCharts(view);
    $('page-cache').dataset.updated = String(view.time);
    $('notice').hidden = true;
  } catch (err) {
    $('notice').textContent = `Cache view: ${err.message}`;
    $('notice').hidden = false;
  }
  if (timer !== null) timer = setTimeout(poll, POLL_MS);
}

export function startCache() {
  if (timer !== null) return;
  timer = setTimeout(poll, 0);
}

export function stopCache() {
  if (timer !== null) clearTimeout(timer);
  timer = null;
}
