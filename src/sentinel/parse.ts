/** Parsers for what sentinels send. Malformed input yields null, never an exception. */

export interface SwitchMasterEvent {
  name: string;
  oldIp: string;
  oldPort: number;
  newIp: string;
  newPort: number;
}

function parsePort(s: string | undefined): number | null {
  if (s === undefined || !/^\d{1,5}$/.test(s)) return null;
  const n = Number(s);
  return n >= 0 && n <= 65535 ? n : null;
}

/** "+switch-master" payload: "<name> <old-ip> <old-port> <new-ip> <new-port>". */
export function parseSwitchMaster(payload: string): SwitchMasterEvent | null {
  const parts = payload.trim().split(' ');
  if (parts.length !== 5) return null;
  const [name, oldIp, oldPortS, newIp, newPortS] = parts as [string, string, string, string, string];
  const oldPort = parsePort(oldPortS);
  const newPort = parsePort(newPortS);
  if (oldPort === null || newPort === null || !name || !oldIp || !newIp) return null;
  return { name, oldIp, oldPort, newIp, newPort };
}

/**
 * "+promoted-slave" payload: "slave <ip>:<port> <ip> <port> @ <master-name> <master-ip> <master-port>":
 * the replica the failover leader saw answer as master, and the cluster it is for.
 */
export function parsePromotedReplica(payload: string): { name: string; ip: string; port: number } | null {
  const parts = payload.trim().split(' ');
  if (parts.length !== 8 || parts[0] !== 'slave' || parts[4] !== '@') return null;
  const [, , ip, portS, , name] = parts as [string, string, string, string, string, string];
  const port = parsePort(portS);
  if (port === null || !ip || !name) return null;
  return { name, ip, port };
}

/**
 * Master name an instance event refers to. Formats:
 *   "master <name> <ip> <port> ..."                      (e.g. +odown, +config-update-from-sentinel sometimes)
 *   "<type> <instance-name> <ip> <port> @ <master-name> <master-ip> <master-port>"
 */
export function masterNameOfEvent(payload: string): string | null {
  const parts = payload.trim().split(' ');
  const at = parts.indexOf('@');
  if (at >= 0) return parts[at + 1] || null;
  if (parts[0] === 'master' && parts[1]) return parts[1];
  return null;
}

/**
 * The master name of an event about a replica ("slave <ip:port> <ip> <port> @ <master> ..."), or
 * null when the event is about another kind of instance (a master's or a sentinel's +sdown).
 */
export function replicaEventMaster(payload: string): string | null {
  const parts = payload.trim().split(' ');
  return parts[0] === 'slave' ? masterNameOfEvent(payload) : null;
}

/** A flat [k1, v1, k2, v2, ...] reply (SENTINEL MASTER/MASTERS/SENTINELS element) to a record. */
export function fieldsToRecord(reply: unknown): Record<string, string> | null {
  if (!Array.isArray(reply) || reply.length % 2 !== 0) return null;
  const out: Record<string, string> = {};
  for (let i = 0; i < reply.length; i += 2) {
    const k: unknown = reply[i];
    const v: unknown = reply[i + 1];
    if (typeof k !== 'string' && !Buffer.isBuffer(k)) return null;
    if (typeof v !== 'string' && typeof v !== 'number' && !Buffer.isBuffer(v)) continue; // nested values are not needed
    out[String(k)] = String(v);
  }
  return out;
}

/** One sentinel's view of one master, as read from SENTINEL MASTER(S). */
export interface MasterView {
  name: string;
  ip: string;
  port: number;
  configEpoch: number;
  flags: string[];
}

export function parseMasterRecord(rec: Record<string, string>): MasterView | null {
  const name = rec.name;
  const ip = rec.ip;
  const port = parsePort(rec.port);
  const epochS = rec['config-epoch'] ?? '0';
  // A safe integer only: a huge epoch would otherwise become Infinity and outrank every real view.
  if (!name || ip === undefined || port === null || !/^\d{1,15}$/.test(epochS)) return null;
  return { name, ip, port, configEpoch: Number(epochS), flags: (rec.flags ?? '').split(',').filter(Boolean) };
}

/** SENTINEL MASTERS reply → views; malformed elements are reported by count so callers can log them. */
export function parseMastersReply(reply: unknown): { views: MasterView[]; malformed: number } | null {
  if (!Array.isArray(reply)) return null;
  const views: MasterView[] = [];
  let malformed = 0;
  for (const element of reply) {
    const rec = fieldsToRecord(element);
    const view = rec ? parseMasterRecord(rec) : null;
    if (view) views.push(view);
    else malformed++;
  }
  return { views, malformed };
}

/** A peer sentinel as listed by SENTINEL SENTINELS <name>: its address and sentinel id (runid). */
export interface PeerInfo {
  host: string;
  port: number;
  id: string | null;
}

/** SENTINEL SENTINELS <name> reply → peers. */
export function parsePeersReply(reply: unknown): PeerInfo[] | null {
  if (!Array.isArray(reply)) return null;
  const peers: PeerInfo[] = [];
  for (const element of reply) {
    const rec = fieldsToRecord(element);
    const port = parsePort(rec?.port);
    if (rec?.ip && port !== null && port > 0) peers.push({ host: rec.ip, port, id: rec.runid || null });
  }
  return peers;
}

/** A replica as listed by SENTINEL REPLICAS <name>. */
export interface ReplicaInfo {
  ip: string;
  port: number;
  flags: string[];
  /** "ok" or "err" as Sentinel last read it from the replica's INFO; "" when not reported. */
  masterLinkStatus: string;
}

/** SENTINEL REPLICAS <name> reply → replicas (malformed elements skipped). */
export function parseReplicasReply(reply: unknown): ReplicaInfo[] | null {
  if (!Array.isArray(reply)) return null;
  const out: ReplicaInfo[] = [];
  for (const element of reply) {
    const rec = fieldsToRecord(element);
    const port = parsePort(rec?.port);
    if (rec?.ip && port !== null && port > 0) out.push({ ip: rec.ip, port, flags: (rec.flags ?? '').split(',').filter(Boolean), masterLinkStatus: rec['master-link-status'] ?? '' });
  }
  return out;
}
