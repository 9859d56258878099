// ccswitch agent desktop: plain ES module, no build step (see web/README.md).
import { phoneAttach, phoneEvent, callButton } from './phone.js';
const $ = (sel, el = document) => el.querySelector(sel);

const state = {
  me: null,
  presence: { state: 'offline' },
  offers: new Map(),   // conv id -> offer
  convs: new Map(),    // conv id -> conversation summary
  unread: new Set(),
  active: null,        // conv id
  customer: null,      // customer of the active conversation
  crm: new Map(),      // conv id, call id or 'cust:' + customer id -> CRM fields
  ws: null,
};

const labels = { webchat: 'Web chat', whatsapp: 'WhatsApp', sms: 'SMS', email: 'Email', telegram: 'Telegram', messenger: 'Messenger', call: 'Call' };

async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  const r = await fetch(path, opt);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(data.error || r.statusText);
    err.status = r.status;
    throw err;
  }
  return data;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? '')));
  return e;
}

// The desktop's clock need not agree with the server's: count down from the time left.
function localDeadline(o) { return { ...o, deadline: Date.now() + (o.ttl_ms ?? 0) }; }

function announce(text) { $('#announce').textContent = text; }
function status(text) { $('#status').textContent = text; }
function badge(adapter) { return el('span', { class: 'badge ' + adapter }, labels[adapter] || adapter); }
// The operator's CRM fields (names and values are text: never parsed as HTML).
function crmList(fields) {
  return el('dl', { class: 'crm', 'aria-label': 'From the CRM' }, ...fields.flatMap((f) => [el('dt', {}, f.name), el('dd', {}, f.value)]));
}
function time(t) { return t ? new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : ''; }

// --- login ------------------------------------------------------------------------------
async function start() {
  try {
    await loadMe();
    showDesktop();
  } catch (e) {
    showLogin();
  }
}

function showLogin() {
  $('#desktop-view').hidden = true;
  $('#login-view').hidden = false;
  $('#login-agent').focus();
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  $('#login-error').textContent = '';
  try {
    await api('POST', '/api/login', { agent: $('#login-agent').value.trim(), password: $('#login-password').value });
    $('#login-password').value = '';
    await loadMe();
    showDesktop();
  } catch (e) {
    $('#login-error').textContent = e.message;
  }
});

async function loadMe() {
  const me = await api('GET', '/api/me');
  state.me = me;
  state.presence = me.presence;
  state.offers = new Map(me.offers.map((o) => [o.conv, localDeadline(o)]));
  state.convs = new Map(me.conversations.map((c) => [c.id, c]));
  if (state.active && !state.convs.has(state.active)) clearActive();
}

function showDesktop() {
  $('#login-view').hidden = true;
  $('#desktop-view').hidden = false;
  $('#agent-name').textContent = `${state.me.name} (${state.me.agent})`;
  const reason = $('#reason');
  reason.replaceChildren(...state.me.reasons.map((r) => el('option', {}, r)));
  const tq = $('#transfer-queue');
  tq.replaceChildren(...state.me.queues.map((q) => el('option', {}, q)));
  // Linking and unlinking customers is a supervisor's (the server refuses it to agents).
  $('#link-form').hidden = state.me.role !== 'supervisor';
  renderPresence();
  renderOffers();
  renderConvs();
  connect();
  if (!state.active && state.convs.size) select(state.convs.keys().next().value);
}

$('#logout-btn').addEventListener('click', async () => {
  await api('POST', '/api/logout', {}).catch(() => {});
  if (state.ws) { state.ws.onclose = null; state.ws.close(); }
  location.reload();
});

// --- presence -----------------------------------------------------------------------------
function renderPresence() {
  const p = state.presence;
  $('#presence').textContent = p.state + (p.reason ? ` (${p.reason})` : '');
  $('#ready-btn').disabled = p.state === 'available';
  // Voice: signed in while a phone is registered (auto-login) or after "log in to voice".
  $('#voice-state').textContent = p.voice ? 'Voice: on' : p.voice_logged_out ? 'Voice: logged out' : p.devices ? 'Voice: off' : 'Voice: no phone';
  $('#voice-btn').textContent = p.voice ? 'Log out of voice' : 'Log in to voice';
}
$('#voice-btn').addEventListener('click', async () => {
  try { await api('POST', '/api/voice', { login: !state.presence.voice }); } catch (e) { status(e.message); }
});
async function setReady(ready) {
  try {
    await api('POST', '/api/state', { ready, reason: ready ? '' : $('#reason').value });
  } catch (e) { status(e.message); }
}
$('#ready-btn').addEventListener('click', () => setReady(true));
$('#notready-btn').addEventListener('click', () => setReady(false));

// --- offers -------------------------------------------------------------------------------
function renderOffers() {
  const ul = $('#offers');
  ul.replaceChildren();
  for (const o of state.offers.values()) {
    const total = Math.max(1, (o.deadline - Date.now()) / 1000);
    const prog = el('progress', { max: String(Math.ceil(total)), value: String(Math.ceil(total)), 'aria-label': 'Time left to accept' });
    const left = el('span', { class: 'left' }, `${Math.ceil(total)} s left`);
    const li = el('li', { class: 'offer', dataset: { conv: o.conv }, 'aria-label': `Offer from ${o.name || 'customer'} on ${labels[o.adapter] || o.adapter}` },
      el('div', {}, badge(o.adapter), el('strong', {}, o.name || 'Customer'), ' ', el('span', { class: 'muted' }, o.queue)),
      el('div', { class: 'text' }, o.preview || ''),
      ...(o.crm?.length ? [crmList(o.crm)] : []),
      prog, left,
      el('div', { class: 'buttons' },
        el('button', { type: 'button', class: 'accept', 'aria-keyshortcuts': 'Alt+A', onclick: () => accept(o.conv) }, 'Accept'),
        el('button', { type: 'button', class: 'reject secondary', 'aria-keyshortcuts': 'Alt+R', onclick: () => reject(o.conv) }, 'Reject')));
    li._tick = () => {
      const s = Math.max(0, Math.ceil((o.deadline - Date.now()) / 1000));
      prog.value = s;
      left.textContent = `${s} s left`;
    };
    ul.append(li);
  }
  $('#no-offers').hidden = state.offers.size > 0;
}
setInterval(() => { for (const li of document.querySelectorAll('.offer')) li._tick?.(); }, 500);

async function accept(conv) {
  try { await api('POST', `/api/offers/${encodeURIComponent(conv)}/accept`, {}); } catch (e) { status(e.message); }
}
async function reject(conv) {
  try { await api('POST', `/api/offers/${encodeURIComponent(conv)}/reject`, {}); } catch (e) { status(e.message); }
}

// --- conversations ------------------------------------------------------------------------
function renderConvs() {
  const ul = $('#convs');
  ul.replaceChildren();
  let i = 1;
  for (const c of state.convs.values()) {
    const b = el('button', { type: 'button', class: 'conv-tab' + (state.unread.has(c.id) ? ' unread' : ''), dataset: { conv: c.id },
      'aria-current': String(c.id === state.active), 'aria-keyshortcuts': i <= 9 ? `Alt+${i}` : '' },
    badge(c.adapter), c.name || c.address);
    b.addEventListener('click', () => select(c.id));
    ul.append(el('li', {}, b));
    i++;
  }
  const cap = state.me?.capacity || {};
  const byCh = {};
  for (const c of state.convs.values()) {
    const ch = c.adapter === 'webchat' ? 'chat' : c.adapter === 'email' ? 'email' : 'social';
    byCh[ch] = (byCh[ch] || 0) + 1;
  }
  $('#load').textContent = ['chat', 'social', 'email'].map((ch) => `${ch} ${byCh[ch] || 0}/${cap[ch] ?? '-'}`).join(' · ');
}

function clearActive() {
  state.active = null;
  state.customer = null;
  $('#conv-title').textContent = 'No conversation selected';
  $('#timeline').replaceChildren();
  $('#reply-form').hidden = true;
  $('#actions').hidden = true;
  $('#customer').hidden = true;
}

async function select(conv) {
  state.active = conv;
  state.unread.delete(conv);
  renderConvs();
  try {
    const d = await api('GET', `/api/conversations/${encodeURIComponent(conv)}`);
    state.customer = d.customer;
    $('#conv-title').replaceChildren(badge(d.conversation.adapter), `${d.customer.name || d.conversation.address}`);
    $('#reply-form').hidden = false;
    $('#actions').hidden = false;
    renderVars(d.conversation.vars || {});
    await loadTimeline();
    $('#reply-text').focus();
  } catch (e) { status(e.message); }
}

function renderVars(vars) {
  const dl = $('#vars');
  dl.replaceChildren();
  const keys = Object.keys(vars);
  if (!keys.length) dl.append(el('dt', {}, '—'), el('dd', { class: 'muted' }, 'none'));
  for (const k of keys.sort()) dl.append(el('dt', {}, k), el('dd', {}, vars[k]));
}

async function loadTimeline() {
  if (!state.customer) return;
  const t = await api('GET', `/api/customers/${encodeURIComponent(state.customer.id)}/timeline`);
  state.customer = t.customer;
  renderCustomer();
  const box = $('#timeline');
  box.replaceChildren();
  for (const it of t.items) {
    if (it.kind === 'call') {
      const c = it.call;
      const secs = c.answer ? Math.round((new Date(c.end) - new Date(c.answer)) / 1000) : 0;
      const agent = c.agent ? ` by ${c.agent}${c.queue ? ` in ${c.queue}` : ''} after ${Math.round((c.wait_ms || 0) / 1000)} s wait, ${Math.round((c.talk_ms || 0) / 1000)} s talk` : '';
      box.append(el('div', { class: 'item call' }, badge('call'),
        `Call from ${c.from} to ${c.to} — ${c.disposition || (c.code === 200 ? 'answered' : c.cause)}${agent || (c.code === 200 ? `, ${secs} s` : '')}`,
        el('div', { class: 'meta' }, new Date(c.start).toLocaleString())));
      continue;
    }
    const m = it.message;
    const who = m.dir === 'in' ? (t.customer.name || 'Customer') : m.dir === 'out' ? (m.agent || 'bot') : '';
    // An outbound message's delivery: "sending" while the outbox retries (with the last error).
    const failed = m.status && m.status.startsWith('failed') ? ` — ${m.status}`
      : m.status === 'sending' ? ` — sending${m.error ? ` (attempt ${m.attempts} failed: ${m.error})` : ''}` : '';
    const atts = (m.attachments || []).map((a) => el('div', { class: 'meta' }, `📎 ${a.name || a.type} ${a.size ? `(${a.size} B)` : ''}${a.rejected ? ` — not kept: ${a.rejected}` : ''}`));
    box.append(el('div', { class: `item msg ${m.dir}${m.conv === state.active ? '' : ' other-conv'}`, dataset: { conv: m.conv, seq: m.seq } },
      el('div', { class: 'meta' }, badge(it.adapter), `${who} · ${time(m.time)}${failed}`),
      el('div', { class: 'text' }, m.text), ...atts));
  }
  box.scrollTop = box.scrollHeight;
}

function renderCustomer() {
  const c = state.customer;
  $('#customer').hidden = false;
  $('#customer-name').textContent = c.name || 'Unnamed customer';
  $('#customer-id').textContent = c.id;
  $('#identities').replaceChildren(...(c.identities || []).map((i) => el('li', {}, badge(i.kind), i.value, ' ', callButton(i))));
  const fields = state.crm.get(state.active) || state.crm.get('cust:' + c.id) ||
    (c.merged || []).map((id) => state.crm.get('cust:' + id)).find(Boolean);
  $('#crm').hidden = !fields?.length;
  $('#crm-fields').replaceChildren(...(fields?.length ? crmList(fields).childNodes : []));
  fillLinkOptions([]);
  const merged = c.merged || [];
  $('#unlink-form').hidden = state.me.role !== 'supervisor' || !merged.length;
  $('#unlink-other').replaceChildren(...merged.map((id) => el('option', { value: id }, id)));
}

// Candidates to link: customers of my other conversations, then search results.
async function fillLinkOptions(found) {
  const sel = $('#link-other');
  const seen = new Set([state.customer?.id]);
  const opts = [];
  for (const c of state.convs.values()) {
    if (seen.has(c.customer)) continue;
    seen.add(c.customer);
    opts.push(el('option', { value: c.customer }, `${c.name || c.address} (${labels[c.adapter] || c.adapter})`));
  }
  for (const c of found) {
    if (seen.has(c.id)) continue;
    seen.add(c.id);
    opts.push(el('option', { value: c.id }, `${c.name || c.id} — ${(c.identities || []).map((i) => i.value).join(', ')}`));
  }
  sel.replaceChildren(...opts);
  $('#link-btn').disabled = opts.length === 0;
}

let searchTimer;
$('#link-search').addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(async () => {
    const q = $('#link-search').value.trim();
    const found = q ? await api('GET', `/api/customers?q=${encodeURIComponent(q)}`).catch(() => []) : [];
    fillLinkOptions(found);
  }, 250);
});

$('#link-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const other = $('#link-other').value;
  if (!other || !state.customer) return;
  try {
    await api('POST', `/api/customers/${encodeURIComponent(state.customer.id)}/link`, { other });
    announce('Customers linked');
    status('Customers linked.');
    await loadMe();
    renderConvs();
    await loadTimeline();
  } catch (e) { status(e.message); }
});

$('#unlink-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const other = $('#unlink-other').value;
  if (!other || !state.customer) return;
  try {
    await api('POST', `/api/customers/${encodeURIComponent(state.customer.id)}/unlink`, { other });
    announce('Customers unlinked');
    status('Customers unlinked.');
    await loadMe();
    renderConvs();
    await loadTimeline();
  } catch (e) { status(e.message); }
});

// --- reply, transfer, close -----------------------------------------------------------------
async function sendReply() {
  const text = $('#reply-text').value.trim();
  if (!text || !state.active) return;
  $('#reply-send').disabled = true;
  try {
    const m = await api('POST', `/api/conversations/${encodeURIComponent(state.active)}/reply`, { text });
    $('#reply-text').value = '';
    if (m.status && m.status !== 'sent') status(`Reply stored but ${m.status}`);
    await loadTimeline();
  } catch (e) { status(e.message); } finally { $('#reply-send').disabled = false; $('#reply-text').focus(); }
}
$('#reply-form').addEventListener('submit', (ev) => { ev.preventDefault(); sendReply(); });
$('#reply-text').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey) { ev.preventDefault(); sendReply(); }
});

$('#transfer-btn').addEventListener('click', async () => {
  if (!state.active) return;
  try {
    await api('POST', `/api/conversations/${encodeURIComponent(state.active)}/transfer`, { queue: $('#transfer-queue').value });
    state.convs.delete(state.active);
    clearActive();
    renderConvs();
    status('Transferred.');
  } catch (e) { status(e.message); }
});

$('#close-btn').addEventListener('click', async () => {
  if (!state.active) return;
  try {
    await api('POST', `/api/conversations/${encodeURIComponent(state.active)}/close`, { wrapup: $('#wrapup').value, notes: $('#notes').value });
    $('#notes').value = '';
    state.convs.delete(state.active);
    clearActive();
    renderConvs();
    status('Closed.');
  } catch (e) { status(e.message); }
});

// --- events -----------------------------------------------------------------------------------
function connect() {
  if (state.ws) return;
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/api/ws');
  state.ws = ws;
  // Subscribed first, then read the state: nothing that happened in between is missed.
  ws.onopen = async () => {
    phoneAttach(ws);
    status('');
    try {
      await loadMe();
      renderPresence();
      renderOffers();
      renderConvs();
    } catch (e) { status(e.message); }
  };
  ws.onmessage = (ev) => handle(JSON.parse(ev.data));
  ws.onclose = () => {
    state.ws = null;
    status('Reconnecting…');
    setTimeout(async () => {
      try { await loadMe(); renderPresence(); renderOffers(); renderConvs(); connect(); } catch (e) { if (e.status === 401) showLogin(); else connect(); }
    }, 1000);
  };
}

function handle(ev) {
  if (typeof ev.type === 'string' && ev.type.startsWith('phone.')) return phoneEvent(ev);
  switch (ev.type) {
    case 'state':
      state.presence = ev.presence || { state: ev.state, reason: ev.reason };
      renderPresence();
      break;
    case 'offer':
      state.offers.set(ev.offer.conv, localDeadline(ev.offer));
      renderOffers();
      announce(`New ${labels[ev.offer.adapter] || ev.offer.adapter} offer from ${ev.offer.name || 'a customer'}`);
      break;
    case 'offer-ended':
      state.offers.delete(ev.conv.id);
      renderOffers();
      if (ev.reason === 'timed-out') announce('An offer timed out');
      break;
    case 'assigned':
      state.offers.delete(ev.conv.id);
      renderOffers();
      api('GET', '/api/me').then((me) => {
        state.convs = new Map(me.conversations.map((c) => [c.id, c]));
        renderConvs();
        if (!state.active) select(ev.conv.id);
        else fillLinkOptions([]);
      });
      break;
    case 'conversation':
      if (ev.conv.state !== 'assigned' || ev.conv.agent !== state.me.agent) {
        state.convs.delete(ev.conv.id);
        if (state.active === ev.conv.id) clearActive();
        renderConvs();
      }
      break;
    case 'message': {
      const m = ev.message;
      if (state.active && (m.conv === state.active || $(`#timeline [data-conv="${CSS.escape(m.conv)}"]`))) {
        loadTimeline();
      } else if (state.convs.has(m.conv)) {
        state.unread.add(m.conv);
        renderConvs();
      }
      if (m.dir === 'in') announce('New message');
      break;
    }
    case 'screen-pop': {
      const c = ev.call;
      const who = c.customer ? `${c.customer.name || c.customer.id}` : 'unknown caller';
      const box = $('#screenpop');
      box.replaceChildren(`Incoming call from ${c.from} — ${who}`);
      box.dataset.call = c.call_id;
      if (c.customer) {
        box.append(' ', el('button', { type: 'button', class: 'secondary', onclick: () => showCallerTimeline(c.customer) }, 'Show timeline'));
      }
      box.append(' ', el('button', { type: 'button', class: 'secondary', onclick: () => { box.hidden = true; } }, 'Dismiss'));
      if (state.crm.has(c.call_id)) box.append(crmList(state.crm.get(c.call_id)));
      box.hidden = false;
      break;
    }
    case 'crm': {
      const k = ev.crm;
      for (const key of [k.conv, k.call_id, k.customer && 'cust:' + k.customer]) if (key) state.crm.set(key, k.fields);
      const o = k.conv && state.offers.get(k.conv);
      if (o) { o.crm = k.fields; renderOffers(); }
      const pop = $('#screenpop');
      if (k.call_id && !pop.hidden && pop.dataset.call === k.call_id) pop.append(crmList(k.fields));
      if (state.customer && (state.active === k.conv || state.customer.id === k.customer)) renderCustomer();
      break;
    }
    case 'error':
      status(ev.error);
      break;
  }
}

async function showCallerTimeline(customer) {
  state.active = null;
  state.customer = customer;
  $('#conv-title').textContent = `Caller: ${customer.name || customer.id}`;
  $('#reply-form').hidden = true;
  $('#actions').hidden = true;
  await loadTimeline();
}

// --- keyboard -----------------------------------------------------------------------------
document.addEventListener('keydown', (ev) => {
  if ($('#desktop-view').hidden) return;
  const typing = ['INPUT', 'TEXTAREA', 'SELECT'].includes(document.activeElement?.tagName);
  if (ev.altKey && !ev.ctrlKey && !ev.metaKey) {
    const first = state.offers.keys().next().value;
    const k = ev.key.toLowerCase();
    if (k === 'a' && first) { ev.preventDefault(); accept(first); }
    else if (k === 'r' && first) { ev.preventDefault(); reject(first); }
    else if (k === 'y') { ev.preventDefault(); setReady(true); }
    else if (k === 'n') { ev.preventDefault(); setReady(false); }
    else if (/^[1-9]$/.test(ev.key)) {
      const id = [...state.convs.keys()][Number(ev.key) - 1];
      if (id) { ev.preventDefault(); select(id); }
    }
  } else if (ev.key === '?' && !typing) {
    ev.preventDefault();
    $('#help').showModal();
  }
});
$('#help-btn').addEventListener('click', () => $('#help').showModal());

start();
