/**
 * Which sentinels form a cluster's group, for the quorum (pure).
 *
 * Sentinels of one group list each other as peers (SENTINEL SENTINELS <name>). A sentinel that lists
 * none of the others and that none of them lists is not in the group (a wrong entry in the config,
 * e.g. a sentinel of another deployment that monitors a master of the same name): it counts neither
 * for the quorum nor in its denominator, so one wrong entry cannot cost the real group its fault
 * tolerance. While nobody lists anybody (before the first discovery, or a lone sentinel) nobody is
 * left out. Peers are matched by sentinel id (SENTINEL MYID) or, when unknown, by address, so a
 * sentinel reached under two addresses counts once.
 */

export interface PeerRef {
  location: string;
  id: string | null;
}

export interface GroupMember {
  /** Unique key of this member (its sentinel id, or its address while the id is unknown). */
  key: string;
  location: string;
  id: string | null;
  /** Who this member lists as peers for the cluster (null: not asked yet). */
  listed: readonly PeerRef[] | null;
}

export interface Group {
  /** Members counted for the quorum and its denominator. */
  counted: string[];
  /** Members left out: not in the group. */
  outside: string[];
}

export function matches(ref: PeerRef, m: { location: string; id: string | null }): boolean {
  return (ref.id !== null && ref.id !== '' && ref.id === m.id) || ref.location === m.location;
}

export function groupOf(members: readonly GroupMember[]): Group {
  const linked = new Set<string>();
  for (const a of members) {
    for (const ref of a.listed ?? []) {
      for (const b of members) {
        if (b.key !== a.key && matches(ref, b)) {
          linked.add(a.key);
          linked.add(b.key);
        }
      }
    }
  }
  if (linked.size === 0) return { counted: members.map((m) => m.key), outside: [] };
  return {
    counted: members.filter((m) => linked.has(m.key)).map((m) => m.key),
    outside: members.filter((m) => !linked.has(m.key)).map((m) => m.key),
  };
}
