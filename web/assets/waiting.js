// waiting.js: the agent's view of waiting callers they took (issue 15) — the callback they
// preview, with a countdown to the moment ccswitch dials by itself, and the messages to the
// queue they hold, with a player and a Done button. It polls GET /api/waiting (2 s) and draws
// its own panel; no inline script or style (the desktop's CSP).
const panel = document.createElement("section");
panel.className = "waiting";
panel.setAttribute("aria-label", "Callbacks and messages");
panel.hidden = true;
document.body.prepend(panel);

let callbackDeadline = null;
let shown = "";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function countdown() {
  const c = panel.querySelector(".countdown");
  if (!c || !callbackDeadline) return;
  const left = Math.max(0, Math.ceil((callbackDeadline - Date.now()) / 1000));
  c.textContent = left > 0 ? `Dialling in ${left} s` : "Dialling…";
}

function draw(desk) {
  const key = JSON.stringify(desk);
  if (key === shown) return;
  shown = key;
  panel.replaceChildren();
  const cb = desk.callback;
  const vms = desk.voicemails || [];
  panel.hidden = !cb && vms.length === 0;
  callbackDeadline = null;
  if (cb) {
    const card = el("div", undefined, "callback");
    card.append(el("h2", "Callback"));
    card.append(el("p", `${cb.number} — queue ${cb.queue}, called ${cb.did}, attempt ${cb.attempt}`));
    for (const [k, v] of Object.entries(cb.vars || {})) card.append(el("p", `${k}: ${v}`, "muted"));
    card.append(el("p", "", "countdown"));
    callbackDeadline = Date.parse(cb.deadline);
    panel.append(card);
    countdown();
  }
  for (const vm of vms) {
    const card = el("div", undefined, "voicemail");
    card.append(el("h2", `Message from ${vm.from}`));
    card.append(el("p", `Queue ${vm.queue}, called ${vm.did}, ${new Date(vm.recorded).toLocaleString()}`, "muted"));
    const audio = el("audio");
    audio.controls = true;
    audio.preload = "none";
    audio.src = `/api/waiting/voicemail/${encodeURIComponent(vm.task)}`;
    card.append(audio);
    const done = el("button", "Done");
    done.addEventListener("click", async () => {
      done.disabled = true;
      await fetch(`/api/waiting/voicemail/${encodeURIComponent(vm.task)}/done`, {
        method: "POST", headers: { "Content-Type": "application/json" }, body: "{}",
      });
      poll();
    });
    card.append(done);
    panel.append(card);
  }
}

async function poll() {
  try {
    const r = await fetch("/api/waiting", { credentials: "same-origin" });
    if (r.ok) draw(await r.json());
    else draw({});
  } catch {
    // offline: try again at the next tick
  }
}

setInterval(poll, 2000);
setInterval(countdown, 250);
poll();
