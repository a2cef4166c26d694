import type { Identity } from './types.js';

/**
 * Who answered, from the replies to ROLE and INFO server. Pure: the connection is ask.ts's.
 * An instance that hides INFO (a renamed command, an ACL without +info) gives no run_id: it
 * cannot be told apart from another one, and the caller reports that instead of guessing.
 */
export function identityOf(roleReply: unknown, infoText: string): Identity {
  const role = Array.isArray(roleReply) && (typeof roleReply[0] === 'string' || Buffer.isBuffer(roleReply[0])) ? String(roleReply[0]) : 'unknown';
  const fields = infoFields(infoText);
  const port = Number(fields.get('tcp_port'));
  return { runId: fields.get('run_id') ?? '', role, tcpPort: Number.isInteger(port) && port > 0 ? port : null };
}

/** `key:value` lines of an INFO reply (sections and comments skipped). */
export function infoFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) out.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return out;
}
