/**
 * Which sentinels form a cluster's group, for the quorum (pure).
 *
 * Sentinels of one group list each other as peers (SENTINEL SENTINELS <name>), so "lists or is
 * listed by" links a group together. The sentinels known for a cluster may fall into several such
 * groups: a wrong entry in the config (a sentinel of another deployment that monitors a master of
 * the same name) brings its own peers along. Only one group is counted, for the quorum and its
 * denominator; the others are left out, so a foreign group can neither outvote the real one (a
 * bigger foreign group would otherwise reach a majority of the sum) nor cost it its fault tolerance.
 *
 * Which group counts:
 *  - a sentinel linked to nobody is left out as soon as some sentinels are linked (while nobody
 *    lists anybody, before the first discovery or with a lone sentinel, nobody is left out);
 *  - the group that confirmed the current master (the anchor) keeps counting;
 *  - otherwise the group holding the most configured sentinels;
 *  - a tie is not broken: the config names two unrelated groups equally and nothing tells which is
 *    the right one (size does not: a bigger foreign group is just as foreign), so the caller holds.
 * Before the first confirmation, a configured sentinel that has not answered yet may turn out to
 * belong to another group, so the choice waits for it (`waitingFor`) unless it is already known as
 * a peer of the chosen group.
 * Peers are matched by sentinel id (SENTINEL MYID) or, when unknown, by address, so a sentinel
 * reached under two addresses counts once.
 */

export interface PeerRef {
  /** The sentinel's address, host:port: how this project names a sentinel. */
  sentinel: string;
  id: string | null;
}

export interface GroupMember {
  /** Unique key of this member (its sentinel id, or its address while the id is unknown). */
  key: string;
  /** The sentinel's address, host:port: how this project names a sentinel. */
  sentinel: string;
  id: string | null;
  /** Who this member lists as peers for the cluster (null: not asked yet). */
  listed: readonly PeerRef[] | null;
  /** Named in the config file (not discovered). */
  configured?: boolean;
  /** Configured and not answered yet (its peers are still unknown). */
  pending?: boolean;
}

export interface GroupContext {
  /** Addresses (host:port) of the sentinels that confirmed the current master (empty before the first). */
  anchor?: readonly string[];
}

export interface Group {
  /** Members counted for the quorum and its denominator. */
  counted: string[];
  /** Members left out: not in the group. */
  outside: string[];
  /** Several unrelated groups and no way to choose: the sentinel lists of each (else null). */
  unrelated: string[][] | null;
  /** Configured sentinels (host:port) whose answer the choice waits for (else empty). */
  waitingFor: string[];
}

export function matches(ref: PeerRef, m: { sentinel: string; id: string | null }): boolean {
  return (ref.id !== null && ref.id !== '' && ref.id === m.id) || ref.sentinel === m.sentinel;
}

/** Connected components of "lists or is listed by", in member order. */
function components(members: readonly GroupMember[]): GroupMember[][] {
  const parent = members.map((_, i) => i);
  const root = (i: number): number => (parent[i] === i ? i : (parent[i] = root(parent[i]!)));
  members.forEach((a, i) => {
    for (const ref of a.listed ?? []) {
      members.forEach((b, j) => {
        if (j !== i && matches(ref, b)) parent[root(i)] = root(j);
      });
    }
  });
  const byRoot = new Map<number, GroupMember[]>();
  members.forEach((m, i) => {
    const r = root(i);
    byRoot.set(r, [...(byRoot.get(r) ?? []), m]);
  });
  return [...byRoot.values()];
}

export function groupOf(members: readonly GroupMember[], ctx: GroupContext = {}): Group {
  const all = members.map((m) => m.key);
  const linked = components(members).filter((c) => c.length > 1);
  if (linked.length === 0) return { counted: all, outside: [], unrelated: null, waitingFor: [] };
  const choose = (): GroupMember[] | 'tie' => {
    if (linked.length === 1) return linked[0]!;
    const anchored = linked.filter((c) => c.some((m) => ctx.anchor?.includes(m.sentinel)));
    const candidates = anchored.length > 0 ? anchored : linked;
    if (candidates.length === 1) return candidates[0]!;
    const configuredIn = (c: GroupMember[]) => c.filter((m) => m.configured).length;
    const most = Math.max(...candidates.map(configuredIn));
    const best = candidates.filter((c) => configuredIn(c) === most);
    return best.length === 1 ? best[0]! : 'tie';
  };
  const chosen = choose();
  const anchored = (ctx.anchor?.length ?? 0) > 0;
  const inChosen = new Set(chosen === 'tie' ? [] : chosen.map((m) => m.key));
  const waitingFor = anchored ? [] : members.filter((m) => m.pending && !inChosen.has(m.key)).map((m) => m.sentinel);
  if (chosen === 'tie') return { counted: [], outside: all, unrelated: linked.map((c) => c.map((m) => m.sentinel)), waitingFor };
  return { counted: all.filter((k) => inChosen.has(k)), outside: all.filter((k) => !inChosen.has(k)), unrelated: null, waitingFor };
}

/**
 * The sentinels reachable from `from` through peer lists ("lists" and "is listed by" the ones
 * already reached), by address. `lists` gives each lister's peers; `known` maps a peer listed by
 * id to the address it is watched under.
 */
export function reachable(from: Iterable<string>, lists: ReadonlyArray<readonly [string, readonly PeerRef[]]>, known: ReadonlyArray<{ sentinel: string; id: string | null }>): Set<string> {
  const seen = new Set(from);
  const queue = [...seen];
  const visit = (sentinel: string) => {
    if (seen.has(sentinel)) return;
    seen.add(sentinel);
    queue.push(sentinel);
  };
  while (queue.length > 0) {
    const at = queue.shift()!;
    const self = known.find((k) => k.sentinel === at) ?? { sentinel: at, id: null };
    for (const [lister, refs] of lists) {
      if (lister === at) {
        for (const ref of refs) {
          visit(ref.sentinel);
          for (const k of known) if (matches(ref, k)) visit(k.sentinel);
        }
      } else if (refs.some((ref) => matches(ref, self))) {
        visit(lister);
      }
    }
  }
  return seen;
}
