import { joinHostPort } from '../config/address.js';
import type { ClusterState } from '../topology/types.js';

/**
 * A cluster's read pool as /api/topology and the status page show it: each replica Sentinel
 * lists, whether it serves reads, its measured lag and why it is out; and where reads go now.
 * `target` is "replicas", "master" (no serving replica, fallback on) or "none" (refused).
 */
export function readPoolView(c: ClusterState) {
  const pool = c.readPool ?? null;
  const serving = c.replicas ?? [];
  const fallback = c.readFallbackToMaster ?? true;
  return {
    target: serving.length > 0 ? 'replicas' : fallback && c.master ? 'master' : 'none',
    size: serving.length,
    replicas: (pool?.candidates ?? []).map((r) => ({ address: joinHostPort(r.ip, r.port), ip: r.ip, port: r.port, state: r.state, lagBytes: r.lagBytes, reason: r.reason })),
  };
}
