// ccswitch web chat widget. Embed with one tag:
//   <script src="https://ccswitch.example/widget.js" data-title="Chat with us" defer></script>
// Optional: window.ccswitchChat.identify({name, email, phone}) before or after load.
(function () {
  'use strict';
  var script = document.currentScript;
  var base = new URL(script && script.src ? script.src : location.href);
  var wsURL = (base.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + base.host + '/chat/ws';
  var title = (script && script.dataset.title) || 'Chat with us';
  var KEY = 'ccswitch.chat.' + base.host;

  var st = load();
  var seen = {};       // "conv:seq" already rendered
  var lastSeq = 0;     // highest seq rendered in st.conv (resent from 0 after a page load)
  var ws = null, backoff = 250, helloDone = false;

  function load() {
    try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return {}; }
  }
  function save() {
    try { localStorage.setItem(KEY, JSON.stringify(st)); } catch (e) { /* private mode */ }
  }
  st.outbox = st.outbox || [];
  st.who = st.who || {};

  function newID() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    return Date.now().toString(36) + Math.random().toString(36).slice(2);
  }

  // --- UI -------------------------------------------------------------------------------
  var css = document.createElement('style');
  css.textContent = [
    '.ccs-w{position:fixed;right:1rem;bottom:1rem;z-index:2147483000;font:15px/1.4 system-ui,sans-serif}',
    '.ccs-w button{font:inherit;cursor:pointer}',
    '.ccs-toggle{background:#1d4ed8;color:#fff;border:0;border-radius:2rem;padding:.7rem 1.2rem;box-shadow:0 2px 8px #0004}',
    '.ccs-toggle:focus-visible,.ccs-panel :focus-visible{outline:3px solid #f59e0b;outline-offset:2px}',
    '.ccs-panel{display:flex;flex-direction:column;width:min(22rem,calc(100vw - 2rem));height:28rem;background:#fff;color:#111;border:1px solid #ccc;border-radius:.6rem;box-shadow:0 4px 16px #0003;margin-bottom:.5rem}',
    '.ccs-panel[hidden]{display:none}',
    '.ccs-head{display:flex;justify-content:space-between;align-items:center;padding:.5rem .8rem;background:#1d4ed8;color:#fff;border-radius:.6rem .6rem 0 0}',
    '.ccs-head h2{font-size:1rem;margin:0}',
    '.ccs-head button{background:none;border:0;color:#fff;font-size:1.2rem}',
    '.ccs-log{flex:1;overflow-y:auto;padding:.6rem;display:flex;flex-direction:column;gap:.4rem}',
    '.ccs-m{max-width:80%;padding:.4rem .6rem;border-radius:.6rem;white-space:pre-wrap;word-wrap:break-word}',
    '.ccs-in{align-self:flex-end;background:#dbeafe}',
    '.ccs-out{align-self:flex-start;background:#f3f4f6}',
    '.ccs-system{align-self:center;font-size:.85em;color:#555}',
    '.ccs-pending{opacity:.6}',
    '.ccs-form{display:flex;gap:.4rem;padding:.5rem;border-top:1px solid #ddd}',
    '.ccs-form textarea{flex:1;resize:none;font:inherit;padding:.3rem}',
    '.ccs-form button{background:#1d4ed8;color:#fff;border:0;border-radius:.3rem;padding:0 .8rem}',
    '.ccs-status{font-size:.8em;color:#555;padding:0 .8rem .3rem}',
    '.ccs-head .ccs-callme{font-size:.85rem;border:1px solid #fff8;border-radius:.3rem;padding:.1rem .5rem;margin-left:auto;margin-right:.4rem}',
    '.ccs-sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}'
  ].join('\n');
  document.head.appendChild(css);

  var root = document.createElement('div');
  root.className = 'ccs-w';
  root.innerHTML =
    '<section class="ccs-panel" id="ccs-panel" role="dialog" aria-labelledby="ccs-title" hidden>' +
    '<div class="ccs-head"><h2 id="ccs-title"></h2>' +
    '<button type="button" class="ccs-callme" title="While you wait: an agent calls you back on your verified number">Call me</button>' +
    '<button type="button" class="ccs-close" aria-label="Close chat">\u00d7</button></div>' +
    '<div class="ccs-log" id="ccs-log" role="log" aria-live="polite" aria-label="Conversation" tabindex="0"></div>' +
    '<div class="ccs-status" id="ccs-status" aria-live="polite"></div>' +
    '<form class="ccs-form"><label for="ccs-input" class="ccs-sr">Message</label>' +
    '<textarea id="ccs-input" rows="2" placeholder="Type a message" aria-describedby="ccs-hint"></textarea>' +
    '<span id="ccs-hint" class="ccs-sr">Enter sends, Shift+Enter adds a line</span>' +
    '<button type="submit">Send</button></form></section>' +
    '<button type="button" class="ccs-toggle" aria-expanded="false" aria-controls="ccs-panel"></button>';
  var panel = root.querySelector('.ccs-panel');
  var log = root.querySelector('.ccs-log');
  var input = root.querySelector('textarea');
  var toggle = root.querySelector('.ccs-toggle');
  var status = root.querySelector('.ccs-status');
  root.querySelector('h2').textContent = title;
  toggle.textContent = title;

  function open(show) {
    panel.hidden = !show;
    toggle.setAttribute('aria-expanded', String(show));
    if (show) { input.focus(); connect(); } else { toggle.focus(); }
  }
  toggle.addEventListener('click', function () { open(panel.hidden); });
  root.querySelector('.ccs-close').addEventListener('click', function () { open(false); });
  // "Call me": no number is sent; ccswitch calls the customer's verified number, if any.
  var wantCall = false;
  root.querySelector('.ccs-callme').addEventListener('click', callMe);
  function callMe() {
    if (ws && ws.readyState === 1 && helloDone) {
      wantCall = false;
      ws.send(JSON.stringify({ t: 'callme', cid: newID() }));
      status.textContent = 'Asking for a call\u2026';
    } else {
      wantCall = true;
      connect();
    }
  }
  panel.addEventListener('keydown', function (e) { if (e.key === 'Escape') { open(false); } });
  input.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); submit(); }
  });
  root.querySelector('form').addEventListener('submit', function (e) { e.preventDefault(); submit(); });

  function bubble(dir, text, cid) {
    var el = null;
    if (cid) { el = log.querySelector('[data-cid="' + CSS.escape(cid) + '"]'); }
    if (!el) {
      el = document.createElement('div');
      el.className = 'ccs-m ccs-' + dir;
      if (cid) { el.dataset.cid = cid; }
      el.textContent = text;
      log.appendChild(el);
      log.scrollTop = log.scrollHeight;
    }
    return el;
  }

  function submit() {
    var text = input.value.trim();
    if (!text) { return; }
    input.value = '';
    send(text);
  }

  function send(text) {
    var m = { cid: newID(), text: text };
    st.outbox.push(m);
    save();
    bubble('in', text, m.cid).classList.add('ccs-pending');
    if (ws && ws.readyState === 1 && helloDone) { ws.send(JSON.stringify({ t: 'msg', cid: m.cid, text: m.text })); }
    connect();
  }

  // --- connection -----------------------------------------------------------------------
  function connect() {
    if (ws) { return; }
    status.textContent = 'Connecting\u2026';
    ws = new WebSocket(wsURL);
    helloDone = false;
    ws.onopen = function () {
      ws.send(JSON.stringify({ t: 'hello', visitor: st.visitor, token: st.token, conv: st.conv, since: lastSeq,
        name: st.who.name, email: st.who.email, phone: st.who.phone }));
    };
    ws.onmessage = function (ev) {
      var f;
      try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.t === 'welcome') {
        backoff = 250;
        st.visitor = f.visitor; st.token = f.token;
        if (f.conv && f.conv !== st.conv) { st.conv = f.conv; lastSeq = 0; }
        save();
        helloDone = true;
        status.textContent = '';
        st.outbox.forEach(function (m) { ws.send(JSON.stringify({ t: 'msg', cid: m.cid, text: m.text })); });
        if (wantCall) { callMe(); }
      } else if (f.t === 'callme') {
        status.textContent = 'An agent will call you back on your verified number.';
      } else if (f.t === 'ack') {
        st.outbox = st.outbox.filter(function (m) { return m.cid !== f.cid; });
        if (f.conv !== st.conv) { st.conv = f.conv; lastSeq = 0; }
        save();
        var el = log.querySelector('[data-cid="' + CSS.escape(f.cid) + '"]');
        if (el) { el.classList.remove('ccs-pending'); }
        seen[f.conv + ':' + f.seq] = true;
      } else if (f.t === 'msg') {
        if (f.conv !== st.conv) { st.conv = f.conv; lastSeq = 0; save(); }
        if (f.seq > lastSeq) { lastSeq = f.seq; }
        if (seen[f.conv + ':' + f.seq]) { return; }
        seen[f.conv + ':' + f.seq] = true;
        var el2 = bubble(f.dir, f.text, f.dir === 'in' ? f.cid : '');
        el2.classList.remove('ccs-pending');
        el2.dataset.seq = f.seq;
      } else if (f.t === 'error') {
        // Not stored (a limit, a store error): it stays pending and goes again after the next hello.
        status.textContent = f.error || 'Not sent';
      }
    };
    ws.onclose = function () {
      ws = null;
      helloDone = false;
      status.textContent = 'Reconnecting\u2026';
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 5000);
    };
  }

  function start() {
    document.body.appendChild(root);
    st.outbox.forEach(function (m) { bubble('in', m.text, m.cid).classList.add('ccs-pending'); });
    if (st.visitor || st.outbox.length) { connect(); }
  }
  if (document.body) { start(); } else { document.addEventListener('DOMContentLoaded', start); }

  window.ccswitchChat = {
    open: function () { open(true); },
    send: send,
    callMe: callMe,
    identify: function (who) { st.who = who || {}; save(); if (ws) { ws.close(); } },
    disconnect: function () { if (ws) { ws.close(); } }
  };
})();
