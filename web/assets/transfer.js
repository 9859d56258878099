// Transfer button for calls: when the screen pop shows an agent's call, it gains a field for an
// extension or a number and a Transfer button (POST /api/calls/{call}/transfer). The caller goes
// to the target once it answers; the agent's phone is then hung up.
const pop = document.querySelector('#screenpop');

function transferForm(call) {
  const form = document.createElement('form');
  form.className = 'call-transfer';
  const input = document.createElement('input');
  input.type = 'text';
  input.name = 'target';
  input.placeholder = 'Extension or number';
  input.setAttribute('aria-label', 'Transfer to extension or number');
  input.required = true;
  input.maxLength = 64;
  const button = document.createElement('button');
  button.type = 'submit';
  button.textContent = 'Transfer';
  const status = document.createElement('span');
  status.className = 'call-transfer-status';
  status.setAttribute('role', 'status');
  form.append(' ', input, ' ', button, ' ', status);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    button.disabled = true;
    status.textContent = 'Transferring…';
    try {
      const r = await fetch(`/api/calls/${encodeURIComponent(call)}/transfer`, {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ target: input.value.trim() }),
      });
      const data = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(data.error || r.statusText);
      status.textContent = `Transferred to ${input.value.trim()}`;
    } catch (err) {
      status.textContent = `Transfer failed: ${err.message}`;
      button.disabled = false;
    }
  });
  return form;
}

if (pop) {
  new MutationObserver(() => {
    const call = pop.dataset.call;
    if (!call || pop.hidden || pop.querySelector('form.call-transfer')) return;
    pop.append(transferForm(call));
  }).observe(pop, { childList: true, attributes: true, attributeFilter: ['hidden', 'data-call'] });
}
