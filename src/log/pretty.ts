/**
 * Readable console lines for a person at a terminal, made from pino's JSON lines. It runs as a plain
 * synchronous stream after pino has serialised (and so redacted) each record: no worker thread to
 * start, and a secret censored in JSON stays censored here.
 */

export type LogFormat = 'auto' | 'json' | 'pretty';
export const LOG_FORMATS: readonly LogFormat[] = ['auto', 'json', 'pretty'];

/** auto: readable on a terminal, JSON for pipes, files and journald (which machines read). */
export function resolveFormat(format: LogFormat, isTTY: boolean): 'json' | 'pretty' {
  if (format === 'auto') return isTTY ? 'pretty' : 'json';
  return format;
}

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColour(isTTY: boolean, env: NodeJS.ProcessEnv): boolean {
  return isTTY && !env.NO_COLOR;
}

/** Fields shown first, in this order: the ones an operator looks for in a failover story. */
const KEY_FIELDS = ['cluster', 'from', 'to', 'sentinel', 'reason', 'output'];
/** In every record, and shown by the time and level columns (or of no use at a terminal). */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'name', 'v']);

const LEVELS: Record<number, { label: string; colour: string }> = {
  10: { label: 'TRACE', colour: '90' },
  20: { label: 'DEBUG', colour: '90' },
  30: { label: 'INFO', colour: '32' },
  40: { label: 'WARN', colour: '33' },
  50: { label: 'ERROR', colour: '31' },
  60: { label: 'FATAL', colour: '1;31' },
};

/** A change of master: the line a demo watcher or an on-call operator must not miss. */
export function isMasterChange(msg: string): boolean {
  return msg.startsWith('failover:') || msg.startsWith('SENTINEL GROUP RESET');
}

const MARKER = '>>>';

// Values come from the network (sentinel replies, host names): control characters are escaped so
// a hostile value cannot move the cursor or recolour the terminal.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function value(v: unknown): string {
  if (typeof v === 'string') return v === '' || /[\s"=]/.test(v) || CONTROL.test(v) ? JSON.stringify(v) : v;
  if (v !== null && typeof v === 'object' && 'message' in v && typeof (v as { message: unknown }).message === 'string') return value((v as { message: string }).message);
  return JSON.stringify(v) ?? String(v);
}

function clock(time: unknown): string {
  const d = new Date(typeof time === 'string' || typeof time === 'number' ? time : Date.now());
  if (Number.isNaN(d.getTime())) return String(time);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

/** One pino record → one readable line (no newline): time, level, message, key=value fields. */
export function formatRecord(rec: Record<string, unknown>, colour: boolean): string {
  const paint = (code: string, s: string) => (colour ? `\u001b[${code}m${s}\u001b[0m` : s);
  const level = typeof rec.level === 'number' ? rec.level : 30;
  const lv = LEVELS[level] ?? { label: String(level), colour: '0' };
  const rawMsg = typeof rec.msg === 'string' ? rec.msg : '';
  const msg = CONTROL.test(rawMsg) ? JSON.stringify(rawMsg).slice(1, -1) : rawMsg;
  const present = (k: string) => k in rec && !HIDDEN.has(k) && rec[k] !== null && rec[k] !== undefined;
  const keys = [...KEY_FIELDS.filter(present), ...Object.keys(rec).filter((k) => present(k) && !KEY_FIELDS.includes(k))];
  const fields = keys.map((k) => `${paint('2', `${k}=`)}${value(rec[k])}`).join(' ');
  const shownMsg = isMasterChange(rawMsg) ? paint('1;36', `${MARKER} ${msg}`) : msg;
  return [paint('2', clock(rec.time)), paint(lv.colour, lv.label.padEnd(5)), shownMsg, fields].filter(Boolean).join(' ');
}

/** One line as pino wrote it → a readable line (with newline); anything not JSON passes unchanged. */
export function prettyLine(line: string, colour: boolean): string {
  let rec: unknown;
  try {
    rec = JSON.parse(line);
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
  if (rec === null || typeof rec !== 'object') return `${line.trimEnd()}\n`;
  return `${formatRecord(rec as Record<string, unknown>, colour)}\n`;
}

/** A pino destination that writes readable lines to `out`, synchronously (in order with other output). */
export function prettyStream(out: NodeJS.WritableStream, colour: boolean): { write(chunk: string): boolean } {
  return {
    write(chunk: string) {
      const text = chunk
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => prettyLine(l, colour))
        .join('');
      return out.write(text);
    },
  };
}
