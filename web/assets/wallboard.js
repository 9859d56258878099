// Wallboard: polls /api/stats (the engine's latest snapshot) every two seconds.
const $ = (s) => document.querySelector(s);
const secs = (ns) => `${Math.round(ns / 1e9)} s`;

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) { const td = document.createElement('td'); td.textContent = c; tr.append(td); }
  return tr;
}

async function tick() {
  try {
    const r = await fetch('/api/stats', { credentials: 'same-origin' });
    if (r.status === 401) { $('#wb-status').textContent = 'Log in on the desktop first.'; return; }
    const s = await r.json();
    $('#wb-queues').replaceChildren(...(s.queues || []).map((q) => row([q.Name, q.Waiting, q.Reserved, q.Busy, secs(q.LongestWait),
      `${Math.round(q.ServiceLevel * 100)} %`, secs(q.AvgSpeedOfAnswer), q.Answered, q.Abandoned])));
    $('#wb-agents').replaceChildren(...(s.agents || []).map((a) => row([a.Name || a.ID, a.State + (a.Reason ? ` (${a.Reason})` : ''),
      ...['voice', 'chat', 'email', 'social'].map((c) => `${a.Load[c]}/${a.Capacity[c]}`)])));
    $('#wb-status').textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    $('#wb-status').textContent = `Update failed: ${e.message}`;
  }
}
tick();
setInterval(tick, 2000);
