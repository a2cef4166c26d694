import { createHash } from 'node:crypto';

/**
 * Which exact files already passed validation, so the same bytes are not validated twice
 * (`haproxy -c` costs 60-70 ms; on a failover back to a known state that is most of the apply).
 * A hit means: the same validate command, with the same template, accepted these exact bytes.
 * Failures are never remembered (a fix elsewhere, e.g. a certificate put in place, must count).
 * One cache per output instance; a config reload starts empty.
 */

const MAX_ENTRIES = 256;

export class ValidationCache {
  /** Insertion order = age; a hit moves the entry to the end. */
  private readonly ok = new Map<string, true>();
  private readonly inflight = new Map<string, Promise<boolean>>();

  static key(command: string, template: string, text: string): string {
    const h = createHash('sha256');
    for (const part of [command, template, text]) {
      h.update(String(Buffer.byteLength(part)));
      h.update(':');
      h.update(part);
    }
    return h.digest('hex');
  }

  /** True when these bytes passed; waits for a validation of the same bytes already under way. */
  async passed(command: string, template: string, text: string): Promise<boolean> {
    const k = ValidationCache.key(command, template, text);
    if (this.ok.has(k)) {
      this.ok.delete(k);
      this.ok.set(k, true);
      return true;
    }
    const running = this.inflight.get(k);
    if (running) return running.catch(() => false);
    return false;
  }

  add(command: string, template: string, text: string): void {
    const k = ValidationCache.key(command, template, text);
    this.ok.delete(k);
    this.ok.set(k, true);
    while (this.ok.size > MAX_ENTRIES) this.ok.delete(this.ok.keys().next().value as string);
  }

  /** Runs `validate` unless the same bytes are being validated already; remembers a pass. */
  validateOnce(command: string, template: string, text: string, validate: () => Promise<boolean>): Promise<boolean> {
    const k = ValidationCache.key(command, template, text);
    const running = this.inflight.get(k);
    if (running) return running;
    const p = validate()
      .then((ok) => {
        if (ok) this.add(command, template, text);
        return ok;
      })
      .finally(() => this.inflight.delete(k));
    this.inflight.set(k, p);
    return p;
  }

  get size(): number {
    return this.ok.size;
  }
}
