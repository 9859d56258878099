// Browser phone of the agent desktop: signalling over the desktop's WebSocket ("phone.*"
// frames), media over WebRTC to ccswitch (which terminates it and bridges it to the call's RTP).
const $ = (sel) => document.querySelector(sel);

const ph = {
  ws: null,
  device: 'phone',     // where calls ring: 'phone' (desk phone) or 'browser'
  state: 'off',        // registered | off | error
  call: null,          // { id, dir: 'in' | 'out', from, state: ringing | dialing | talking }
  pc: null,
  stream: null,
  held: false,
  muted: false,
};

function send(m) {
  if (ph.ws && ph.ws.readyState === WebSocket.OPEN) ph.ws.send(JSON.stringify(m));
}

function show() {
  $('#phone-device').value = ph.device;
  const st = ph.device === 'browser' ? ph.state : 'desk phone';
  $('#phone-state').textContent = st === 'registered' ? 'ready' : st;
  const c = ph.call;
  $('#phone-ring').hidden = !(c && c.dir === 'in' && c.state === 'ringing');
  $('#phone-incall').hidden = !(c && c.state !== 'ringing') && !(c && c.dir === 'out');
  $('#phone-dial-form').hidden = ph.device !== 'browser' || ph.state !== 'registered' || !!c;
  if (c) {
    $('#phone-from').textContent = c.from || 'unknown';
    $('#phone-peer').textContent = `${c.dir === 'in' ? 'Call with' : 'Calling'} ${c.from || ''} — ${c.state}`;
  }
  $('#phone-hold').setAttribute('aria-pressed', String(ph.held));
  $('#phone-hold').textContent = ph.held ? 'Resume' : 'Hold';
  $('#phone-mute').setAttribute('aria-pressed', String(ph.muted));
  $('#phone-mute').textContent = ph.muted ? 'Unmute' : 'Mute';
}

// media opens the microphone and a peer connection, and returns the browser's offer.
async function media() {
  ph.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  ph.pc = pc;
  for (const t of ph.stream.getAudioTracks()) pc.addTrack(t, ph.stream);
  pc.ontrack = (e) => { $('#phone-audio').srcObject = e.streams[0] || new MediaStream([e.track]); };
  await pc.setLocalDescription(await pc.createOffer());
  // ccswitch is ICE-lite: it learns the browser's address from its checks, no candidates needed.
  return pc.localDescription.sdp;
}

function teardown() {
  if (ph.pc) ph.pc.close();
  if (ph.stream) for (const t of ph.stream.getTracks()) t.stop();
  ph.pc = null;
  ph.stream = null;
  ph.call = null;
  ph.held = false;
  ph.muted = false;
  $('#phone-audio').srcObject = null;
}

function status(text) { $('#phone-status').textContent = text; }

async function answer() {
  const c = ph.call;
  if (!c) return;
  try {
    c.state = 'connecting';
    show();
    send({ type: 'phone.answer', call: c.id, sdp: await media() });
  } catch (e) {
    status(`Microphone: ${e.message}`);
    send({ type: 'phone.reject', call: c.id });
  }
}

// dial places a call from this browser; the agent's extension's outbound right decides.
export async function dial(number) {
  if (ph.call || ph.state !== 'registered') return;
  ph.call = { id: null, dir: 'out', from: number, state: 'dialing' };
  show();
  try {
    send({ type: 'phone.dial', number, sdp: await media() });
  } catch (e) {
    status(`Microphone: ${e.message}`);
    teardown();
    show();
  }
}

function setDevice(device) {
  ph.device = device;
  localStorage.setItem('ccswitch.phone', device);
  send({ type: device === 'browser' ? 'phone.connect' : 'phone.disconnect' });
  show();
}

// phoneAttach is called when the desktop's WebSocket opens.
export function phoneAttach(ws) {
  ph.ws = ws;
}

// phoneEvent takes the "phone.*" frames of the WebSocket.
export function phoneEvent(ev) {
  const c = ph.call;
  switch (ev.type) {
    case 'phone.config':
      $('#phone').hidden = false;
      ph.device = localStorage.getItem('ccswitch.phone') || ev.device || 'phone';
      if (ph.device === 'browser') send({ type: 'phone.connect' });
      break;
    case 'phone.state':
      ph.state = ev.state;
      status(ev.error ? `Browser phone: ${ev.error}` : '');
      break;
    case 'phone.ring':
      if (c) break;
      ph.call = { id: ev.call, dir: 'in', from: ev.from, state: 'ringing' };
      $('#announce').textContent = `Incoming call from ${ev.from}`;
      break;
    case 'phone.dialing':
      if (c && c.dir === 'out' && !c.id) c.id = ev.call;
      break;
    case 'phone.progress':
      if (c && c.id === ev.call) c.state = 'ringing';
      break;
    case 'phone.sdp':
      if (c && c.id === ev.call && ph.pc) ph.pc.setRemoteDescription({ type: 'answer', sdp: ev.sdp }).catch((e) => status(e.message));
      break;
    case 'phone.connected':
      if (c && c.id === ev.call) c.state = 'talking';
      break;
    case 'phone.ended':
      if (c && (c.id === ev.call || !ev.call)) {
        status(`Call ended (${ev.reason})`);
        teardown();
      }
      break;
  }
  show();
}

// callButton is a "Call" button for a customer's phone number ('' for anything else).
export function callButton(identity) {
  const v = (identity.value || '').trim();
  if (identity.kind === 'email' || !/^\+?[0-9][0-9 ().-]{2,30}$/.test(v)) return '';
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'secondary phone-call';
  b.textContent = 'Call';
  b.setAttribute('aria-label', `Call ${v}`);
  b.addEventListener('click', () => dial(v.replace(/[ ().-]/g, '')));
  return b;
}

$('#phone-device').addEventListener('change', (e) => setDevice(e.target.value));
$('#phone-answer').addEventListener('click', answer);
$('#phone-reject').addEventListener('click', () => { if (ph.call) send({ type: 'phone.reject', call: ph.call.id }); });
$('#phone-hangup').addEventListener('click', () => {
  if (!ph.call) return;
  if (ph.call.id) send({ type: 'phone.hangup', call: ph.call.id });
  else { teardown(); show(); }
});
$('#phone-hold').addEventListener('click', () => {
  if (!ph.call) return;
  ph.held = !ph.held;
  send({ type: 'phone.hold', call: ph.call.id, on: ph.held });
  show();
});
$('#phone-mute').addEventListener('click', () => {
  ph.muted = !ph.muted;
  if (ph.stream) for (const t of ph.stream.getAudioTracks()) t.enabled = !ph.muted;
  show();
});
for (const b of document.querySelectorAll('#phone-keypad button')) {
  b.addEventListener('click', () => { if (ph.call) send({ type: 'phone.dtmf', call: ph.call.id, digit: b.textContent }); });
}
$('#phone-dial-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const n = $('#phone-number').value.replace(/[ ().-]/g, '');
  if (n) dial(n);
});

// Leaving the page (which the browser may keep, WebSocket open, in its back-forward cache)
// hangs up and unregisters at once; coming back reconnects.
window.addEventListener('pagehide', () => {
  if (ph.call && ph.call.id) send({ type: 'phone.hangup', call: ph.call.id });
  send({ type: 'phone.disconnect' });
});
window.addEventListener('pageshow', (e) => {
  if (e.persisted && ph.device === 'browser') send({ type: 'phone.connect' });
});

// For tests and the curious: the call's state and the browser's inbound audio figures.
window.ccswitchPhone = {
  state: () => ({ device: ph.device, state: ph.state, call: ph.call && { ...ph.call } }),
  async inbound() {
    if (!ph.pc) return null;
    const stats = await ph.pc.getStats();
    for (const s of stats.values()) {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') return { packets: s.packetsReceived, lost: s.packetsLost, energy: s.totalAudioEnergy || 0 };
    }
    return { packets: 0, lost: 0, energy: 0 };
  },
  // codec is the negotiated audio codec ("audio/PCMU" or "audio/PCMA").
  async codec() {
    if (!ph.pc) return null;
    const stats = await ph.pc.getStats();
    for (const s of stats.values()) if (s.type === 'inbound-rtp' && s.kind === 'audio') return stats.get(s.codecId)?.mimeType || null;
    return null;
  },
  async outbound() {
    if (!ph.pc) return null;
    const stats = await ph.pc.getStats();
    for (const s of stats.values()) if (s.type === 'outbound-rtp' && s.kind === 'audio') return { packets: s.packetsSent };
    return { packets: 0 };
  },
};
