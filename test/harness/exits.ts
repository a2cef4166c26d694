/**
 * Unexpected exits of harness-started children. A child exits "unexpectedly" when it exits without
 * the harness having been asked to kill or stop it. Every `waitFor` fails at once when one happens
 * while it waits, instead of timing out 10-15 s later.
 */
export interface UnexpectedExit {
  seq: number;
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

const exits: UnexpectedExit[] = [];
const listeners = new Set<(e: UnexpectedExit) => void>();

export function recordUnexpectedExit(e: Omit<UnexpectedExit, 'seq'>): void {
  const entry = { ...e, seq: exits.length + 1 };
  exits.push(entry);
  for (const l of [...listeners]) l(entry);
}

/** A mark to pass to `exitsSince`. */
export function exitMark(): number {
  return exits.length;
}

export function exitsSince(mark: number): UnexpectedExit[] {
  return exits.slice(mark);
}

export function onUnexpectedExit(listener: (e: UnexpectedExit) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function describeExit(e: UnexpectedExit): string {
  return `${e.name} exited unexpectedly (code ${e.code}, signal ${e.signal})\n--- its last output ---\n${e.output.split('\n').slice(-30).join('\n')}`;
}
