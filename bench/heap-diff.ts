/**
 * What grew between two V8 heap snapshots (e.g. the soak's first and last, BENCH_SOAK_HEAPSNAPSHOTS):
 * objects and self size per constructor / node type, largest growth first.
 *
 *   node --import tsx bench/heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [top=25]
 */
import { readFileSync } from 'node:fs';

interface HeapSnapshotFile {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface Tally {
  count: number;
  size: number;
}

/** Objects and bytes per "type:name" (name is the constructor for objects, the kind for the rest). */
export function tally(file: HeapSnapshotFile): Map<string, Tally> {
  const fields = file.snapshot.meta.node_fields;
  const types = file.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const out = new Map<string, Tally>();
  for (let i = 0; i < file.nodes.length; i += fields.length) {
    const type = types[file.nodes[i + typeAt]!]!;
    // Strings and code are named by their content: group them by type only.
    const name = type === 'object' || type === 'closure' ? file.strings[file.nodes[i + nameAt]!]! : '';
    const key = `${type}:${name}`;
    const t = out.get(key) ?? { count: 0, size: 0 };
    t.count++;
    t.size += file.nodes[i + sizeAt]!;
    out.set(key, t);
  }
  return out;
}

export function growth(before: Map<string, Tally>, after: Map<string, Tally>): Array<{ key: string; count: number; size: number }> {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys]
    .map((key) => ({ key, count: (after.get(key)?.count ?? 0) - (before.get(key)?.count ?? 0), size: (after.get(key)?.size ?? 0) - (before.get(key)?.size ?? 0) }))
    .sort((a, b) => b.size - a.size);
}

if (process.argv[1]?.endsWith('heap-diff.ts')) {
  const [a, b, top = '25'] = process.argv.slice(2);
  if (!a || !b) throw new Error('usage: heap-diff.ts BEFORE.heapsnapshot AFTER.heapsnapshot [top]');
  const load = (f: string) => tally(JSON.parse(readFileSync(f, 'utf8')) as HeapSnapshotFile);
  const before = load(a);
  const after = load(b);
  const total = (m: Map<string, Tally>) => [...m.values()].reduce((s, t) => s + t.size, 0);
  console.log(`heap: ${(total(before) / 1048576).toFixed(2)} MB → ${(total(after) / 1048576).toFixed(2)} MB`);
  for (const g of growth(before, after).slice(0, Number(top))) console.log(`${(g.size / 1024).toFixed(1).padStart(9)} KB ${String(g.count).padStart(7)}  ${g.key}`);
}
