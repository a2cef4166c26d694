/**
 * The ROLE answer of a confirmed master, as the read pool needs it: its replication offset and
 * each connected replica's acknowledged offset (what the replica has confirmed it holds).
 * Malformed input yields null, never an exception.
 */

export interface RoleReport {
  role: string;
  /** The master's replication offset (0 for other roles). */
  offset: number;
  /** Replicas connected to this master, with the offset each acknowledged. */
  replicas: Array<{ ip: string; port: number; offset: number }>;
}

const text = (v: unknown): string | null => (typeof v === 'string' ? v : Buffer.isBuffer(v) ? v.toString() : typeof v === 'number' ? String(v) : null);

function whole(v: unknown): number | null {
  const t = text(v);
  return t !== null && /^\d{1,16}$/.test(t) ? Number(t) : null;
}

/** ROLE → `["master", offset, [[ip, port, offset], ...]]` or another role (then no replicas). */
export function parseRoleReply(reply: unknown): RoleReport | null {
  if (!Array.isArray(reply) || reply.length === 0) return null;
  const role = text(reply[0]);
  if (role === null) return null;
  if (role !== 'master') return { role, offset: 0, replicas: [] };
  const offset = whole(reply[1]);
  if (offset === null || !Array.isArray(reply[2])) return null;
  const replicas: RoleReport['replicas'] = [];
  for (const r of reply[2] as unknown[]) {
    if (!Array.isArray(r)) continue;
    const ip = text(r[0]);
    const port = whole(r[1]);
    const acked = whole(r[2]);
    if (ip && port !== null && port > 0 && port <= 65535 && acked !== null) replicas.push({ ip, port, offset: acked });
  }
  return { role, offset, replicas };
}
