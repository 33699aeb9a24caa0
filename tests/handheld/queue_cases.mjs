// The page's check queue (registry_service/handheld/static/queue.js) in Node, with a stand-in for
// localStorage and for the upload: prints one JSON object of findings for tests/handheld/test_queue.py.
import { CheckQueue, Outcome } from '../../registry_service/handheld/static/queue.js';

class Storage {
  constructor() { this.values = new Map(); }
  getItem(key) { return this.values.has(key) ? this.values.get(key) : null; }
  setItem(key, value) { this.values.set(key, String(value)); }
}

const findings = {};
const sent = [];
let mode = 'offline';
const queue = new CheckQueue(new Storage(), async (body) => {
  sent.push({ id: body.id, open_case: body.open_case });
  if (mode === 'offline') throw new TypeError('Failed to fetch');
  if (mode === 'signed-out') return { outcome: Outcome.KEEP };
  if (body.id === 'refused') return { outcome: Outcome.DROP, answer: { detail: 'bad' } };
  await new Promise((resolve) => setTimeout(resolve, 5));
  return { outcome: Outcome.DONE, answer: { case: body.open_case ? 'C-1' : null } };
});

queue.put('grid', { id: 'a', open_case: false });
queue.put('grid', { id: 'b', open_case: false });
queue.put('other', { id: 'c', open_case: false });
await queue.flush('grid');
findings.offline = { waiting: queue.waiting('grid'), sent: sent.length };

mode = 'signed-out';
await queue.flush('grid');
findings.signedOut = { waiting: queue.waiting('grid'), sent: sent.length };

mode = 'online';
sent.length = 0;
const answers = [];
const first = queue.flush('grid', (body, outcome, answer) => answers.push([body.id, outcome, answer.case]));
queue.put('grid', { id: 'a', open_case: true }); // asked for a case while the first upload is on its way
queue.put('grid', { id: 'refused', open_case: false });
const second = queue.flush('grid', (body, outcome, answer) => answers.push([body.id, outcome, answer.case ?? null]));
findings.sameFlush = first === second;
await first;
findings.online = { waiting: queue.waiting('grid'), otherWaiting: queue.waiting('other'), sent, answers };
console.log(JSON.stringify(findings));
