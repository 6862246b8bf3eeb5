// Each error goes next to its cause: the text box, the target box, the model picker or the clamps (whose
// panel takes its messages itself: `sink`). A failed trace also greys the diagram (page event 'error').

export function fieldFor(code) {
  if (/target/.test(code)) return 'target';
  if (/intervention|clamp/.test(code)) return 'clamps';
  if (/model/.test(code)) return 'model';
  return 'text';
}

export function setupErrors(page) {
  const sinks = new Map(); // field → (message | null) => void

  function say(field, message, kind = 'error') {
    if (sinks.has(field)) {
      sinks.get(field)(message);
      return;
    }
    const el = page.$(`${field}-error`);
    if (!el) return;
    el.textContent = message;
    el.hidden = !message;
    el.classList.toggle('hint', kind === 'hint');
    const input = page.$(`${field}-input`);
    if (input) {
      if (message && kind === 'error') input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
  }

  function show(err) {
    say(fieldFor(err.code), err.message);
    page.emit('error', err);
  }

  function clear() {
    for (const f of ['text', 'target', 'model']) say(f, '');
    sinks.get('clamps')?.(null);
    delete page.body.dataset.error;
  }

  return { say, show, clear, sink: (field, fn) => sinks.set(field, fn) };
}
