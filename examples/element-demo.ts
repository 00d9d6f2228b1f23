// The example page's controls set the element's attributes; its `result` event fills the readout.
import type { CnnFixations } from '../src/element/cnn-fixations.ts';

const el = document.querySelector<CnnFixations>('#demo')!;
const form = document.querySelector<HTMLFormElement>('#controls')!;
const readout = document.querySelector<HTMLOutputElement>('#readout')!;

form.addEventListener('input', (e) => {
  const input = e.target as HTMLInputElement | HTMLSelectElement;
  el.setAttribute(input.name, input.value.trim() || 'top');
});
form.addEventListener('submit', (e) => e.preventDefault());

el.addEventListener('result', (e) => {
  const r = e.detail;
  const top = r.top[0];
  const fixations = r.explained.reduce((n, c) => n + c.fixations.length, 0);
  readout.innerHTML = '';
  const line = (text: string, cls = '') => {
    const div = document.createElement('div');
    div.textContent = text;
    div.className = cls;
    readout.append(div);
  };
  line(`${top.label} — ${(top.prob * 100).toFixed(1)}%`, 'top1');
  line(
    `${r.method} for ${r.explained.map((c) => `${c.class.index} ${c.class.label.split(',')[0]}`).join(', ')}: ` +
      `${fixations} fixations, ${r.timings.total.toFixed(0)} ms (${r.path}, ${r.backend})`,
  );
});
el.addEventListener('statechange', () => {
  if (el.status !== 'ready') readout.textContent = el.message;
  else if (el.cameraError) readout.textContent = el.cameraError.message;
});
el.addEventListener('problem', (e) => (readout.textContent = e.detail.message));
