// Wallboard: the engine's latest snapshot (/api/stats, every 2 s), the queues' trends over the
// last hour and, for supervisors, the live calls with Listen / Whisper / Barge buttons
// (/api/wallboard, every 5 s). Colours follow wallboard.service_level_target,
// wallboard.waiting_alert and each queue's service_level.
import { lineChart, level } from './charts.js';

const $ = (s) => document.querySelector(s);
const secs = (ns) => `${Math.round(ns / 1e9)} s`;
let board = null; // last /api/wallboard answer

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    const td = document.createElement('td');
    if (c instanceof Node) td.append(c); else td.textContent = c;
    tr.append(td);
  }
  return tr;
}

function val(text, cls) {
  const s = document.createElement('span');
  s.className = `val ${cls}`;
  s.textContent = text;
  return s;
}

// Thresholds of one queue: [warn, bad] per measure.
function limits(b, q) {
  const t = b.service_level_target;
  return {
    waiting: [Math.max(1, Math.ceil(b.waiting_alert / 2)), b.waiting_alert],
    sl: [t, Math.max(0, t - 0.1)],
    asa: [q.service_level_s / 2, q.service_level_s],
  };
}

async function stats() {
  try {
    const r = await fetch('/api/stats', { credentials: 'same-origin' });
    if (r.status === 401) { $('#wb-status').textContent = 'Log in on the desktop first.'; return; }
    const s = await r.json();
    $('#wb-queues').replaceChildren(...(s.queues || []).map((q) => {
      const b = board;
      const qt = b && (b.queues || []).find((x) => x.name === q.Name);
      const lim = b && qt ? limits(b, qt) : null;
      const sl = Math.round(q.ServiceLevel * 100);
      const asa = q.AvgSpeedOfAnswer / 1e9;
      return row([q.Name, lim ? val(q.Waiting, level(q.Waiting, ...lim.waiting, false)) : q.Waiting, q.Reserved, q.Busy, secs(q.LongestWait),
        lim ? val(`${sl} %`, level(q.ServiceLevel, ...lim.sl, true)) : `${sl} %`,
        lim ? val(`${Math.round(asa)} s`, level(asa, ...lim.asa, false)) : `${Math.round(asa)} s`, q.Answered, q.Abandoned]);
    }));
    $('#wb-agents').replaceChildren(...(s.agents || []).map((a) => row([a.Name || a.ID, a.State + (a.Reason ? ` (${a.Reason})` : ''),
      ...['voice', 'chat', 'email', 'social'].map((c) => `${a.Load[c]}/${a.Capacity[c]}`)])));
    $('#wb-status').textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    $('#wb-status').textContent = `Update failed: ${e.message}`;
  }
}

function figure(caption, svg) {
  const f = document.createElement('figure');
  const c = document.createElement('figcaption');
  c.textContent = caption;
  f.append(svg, c);
  return f;
}

function trends(b) {
  $('#wb-legend').textContent = `Service level and average answer over the ${Math.round(b.window_s / 60)} minutes before each point; ` +
    `target ${Math.round(b.service_level_target * 100)} %, waiting alert at ${b.waiting_alert}. Dashed: the threshold.`;
  $('#wb-trends').replaceChildren(...(b.queues || []).map((q) => {
    const lim = limits(b, q);
    const card = document.createElement('article');
    card.className = 'trend';
    const h = document.createElement('h3');
    h.textContent = q.name;
    const last = q.points[q.points.length - 1] || {};
    const now = document.createElement('div');
    now.className = 'now';
    const pct = (v) => (v === null || v === undefined ? '–' : `${Math.round(v * 100)} %`);
    const sec = (v) => (v === null || v === undefined ? '–' : `${Math.round(v)} s`);
    now.append(val(`waiting ${last.waiting ?? '–'}`, level(last.waiting ?? null, ...lim.waiting, false)),
      val(`SL ${pct(last.sl)}`, level(last.sl, ...lim.sl, true)), val(`answer ${sec(last.asa_s)}`, level(last.asa_s, ...lim.asa, false)));
    const pts = (f) => q.points.map((p) => ({ t: p.t, v: f(p) }));
    card.append(h, now,
      figure('Waiting', lineChart({ points: pts((p) => p.waiting), now: b.time, max: b.waiting_alert, threshold: b.waiting_alert,
        cls: (v) => level(v, ...lim.waiting, false), label: `${q.name}: contacts waiting, last hour`, format: (v) => String(Math.round(v)) })),
      figure('Service level', lineChart({ points: pts((p) => p.sl), now: b.time, max: 1, threshold: b.service_level_target,
        cls: (v) => level(v, ...lim.sl, true), label: `${q.name}: service level, last hour`, format: pct })),
      figure('Average answer', lineChart({ points: pts((p) => p.asa_s), now: b.time, max: q.service_level_s, threshold: q.service_level_s,
        cls: (v) => level(v, ...lim.asa, false), label: `${q.name}: average answer time, last hour`, format: sec })));
    return card;
  }));
}

function duration(since) {
  const s = Math.max(0, Math.round((Date.now() - new Date(since).getTime()) / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

async function monitor(agent, mode) {
  $('#wb-monitor-status').textContent = `Ringing your phone to ${mode} on ${agent}'s call…`;
  try {
    const r = await fetch('/api/monitor', { method: 'POST', credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ agent, mode }) });
    const body = await r.json().catch(() => ({}));
    $('#wb-monitor-status').textContent = r.ok ? `You ${mode} on ${agent}'s call. Press 4, 5, 6 on your phone to switch; hang up to leave.`
      : `Not connected: ${body.error || r.status}`;
  } catch (e) {
    $('#wb-monitor-status').textContent = `Not connected: ${e.message}`;
  }
  board = null;
  refresh();
}

function live(b) {
  $('#wb-live-section').hidden = !b.supervisor;
  if (!b.supervisor) return;
  $('#wb-live').replaceChildren(...(b.live || []).map((c) => {
    const buttons = document.createElement('span');
    for (const mode of ['listen', 'whisper', 'barge']) {
      const btn = document.createElement('button');
      btn.type = 'button';
      btn.textContent = mode[0].toUpperCase() + mode.slice(1);
      btn.setAttribute('aria-label', `${mode} on ${c.agent}'s call`);
      if (c.mode === mode) btn.classList.add('active');
      btn.disabled = !!c.supervisor;
      btn.addEventListener('click', () => monitor(c.agent, mode));
      buttons.append(btn);
    }
    const tr = row([c.agent, c.caller, c.did, duration(c.since), c.supervisor ? `${c.supervisor} (${c.mode})` : '', buttons]);
    tr.lastChild.className = 'buttons';
    tr.children[3].dataset.since = c.since;
    return tr;
  }));
}

async function refresh() {
  try {
    const r = await fetch('/api/wallboard', { credentials: 'same-origin' });
    if (!r.ok) return;
    board = await r.json();
    trends(board);
    live(board);
  } catch (e) {
    $('#wb-status').textContent = `Update failed: ${e.message}`;
  }
}

function tickDurations() {
  for (const td of document.querySelectorAll('#wb-live td[data-since]')) td.textContent = duration(td.dataset.since);
}

refresh().then(stats);
setInterval(stats, 2000);
setInterval(refresh, 5000);
setInterval(tickDurations, 1000);
