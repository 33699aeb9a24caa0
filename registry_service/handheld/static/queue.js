// The officer's checks waiting to reach the registry, kept in localStorage so they survive a reload,
// a closed tab and a phone without network. Each check carries the UUID the phone made when it was
// recorded; the registry stores a UUID once (a repeat gets the same answer), so sending a check again
// after a lost answer is harmless, and a check leaves the queue only on the registry's answer.

const KEY = "handheld.checks.v1";

/** What one upload came to: `done` (stored, or stored before), `keep` (try later), `drop` (refused for good). */
export const Outcome = Object.freeze({ DONE: "done", KEEP: "keep", DROP: "drop" });

export class CheckQueue {
  /**
   * @param storage  localStorage (or a stand-in with getItem/setItem)
   * @param send     async (body) => {outcome, answer}: one upload (app.js, with the CSRF token)
   */
  constructor(storage, send) {
    this.storage = storage;
    this.send = send;
    this.flushing = null;
    this.again = false;
  }

  items() {
    try {
      const items = JSON.parse(this.storage.getItem(KEY) ?? "[]");
      return Array.isArray(items) ? items : [];
    } catch {
      return [];
    }
  }

  save(items) {
    this.storage.setItem(KEY, JSON.stringify(items));
  }

  /** Queue a check, or update the queued one with the same id (asking for a case after recording). */
  put(officer, body) {
    const items = this.items().filter((item) => item.body.id !== body.id);
    items.push({ officer, body });
    this.save(items);
  }

  /** How many checks of `officer` wait. */
  waiting(officer) {
    return this.items().filter((item) => item.officer === officer).length;
  }

  /**
   * Send `officer`'s checks, oldest first, until one has to wait (network down, signed out).
   * One flush at a time: a call while one runs is remembered, and the queue is gone through once
   * more afterwards (a check recorded, or asked to open a case, while the first was on its way).
   * `onAnswer(body, outcome, answer)` is told about each check that left the queue.
   */
  flush(officer, onAnswer = () => {}) {
    if (this.flushing) {
      this.again = true;
      return this.flushing;
    }
    this.flushing = (async () => {
      do {
        this.again = false;
        await this.run(officer, onAnswer);
      } while (this.again);
    })().finally(() => {
      this.flushing = null;
    });
    return this.flushing;
  }

  async run(officer, onAnswer) {
    for (const item of this.items()) {
      if (item.officer !== officer) continue; // another officer's: waits for them to sign in
      let result;
      try {
        result = await this.send(item.body);
      } catch {
        return; // offline: everything waits
      }
      if (result.outcome === Outcome.KEEP) return;
      this.save(this.items().filter((other) => other.body.id !== item.body.id || other.body.open_case !== item.body.open_case));
      onAnswer(item.body, result.outcome, result.answer);
    }
  }
}
