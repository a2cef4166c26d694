/**
 * BENCH_ONLY=spawn: the latency of running `true` forked by this process (as the daemon did
 * before the spawner) against through the spawner helper (src/spawn/spawner.ts), while this
 * process holds BENCH_SPAWN_HEAP_MB (100) of extra heap, as a busy daemon would. Interleaved,
 * BENCH_SPAWN_RUNS (200) of each. Writes bench/results/spawn.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { spawnDirect, type CommandProcess } from '../src/spawn/command.js';
import { Spawner } from '../src/spawn/spawner.js';
import { RemoteCommand } from '../src/spawn/remote-command.js';
import { percentiles, procStats, ROOT, writeResult } from './lib.js';

/** Start to 'exit' of one `true`, in ms; with the helper's own fork time when it ran there. */
function once(start: () => CommandProcess): Promise<{ ms: number; helperSpawnMs?: number }> {
  const t0 = performance.now();
  const child = start();
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', () => resolve({ ms: performance.now() - t0, helperSpawnMs: child instanceof RemoteCommand ? child.timing?.spawnMs : undefined }));
  });
}

/**
 * Live memory shaped like a grown daemon's heap (many small objects and strings, about 200 bytes
 * each): fork copies the page tables of all of it.
 */
function holdHeap(mb: number): unknown[] {
  const held: unknown[] = [];
  for (let i = 0; i < mb * 5000; i++) held.push({ name: `cluster-${i}`, ip: '127.0.0.1', port: i, tags: [i, i + 1] });
  return held;
}

export async function spawnBench(): Promise<void> {
  const runs = Number(process.env.BENCH_SPAWN_RUNS ?? 200);
  const heapMb = Number(process.env.BENCH_SPAWN_HEAP_MB ?? 100);
  // The helper as the packages ship it (one esbuild file), not through tsx, whose loader would
  // make it bigger than it is in production.
  const dir = mkdtempSync(join(tmpdir(), 'rh-bench-spawn-'));
  const script = join(dir, 'spawn-helper.cjs');
  await build({ entryPoints: [join(ROOT, 'src/spawn/helper.ts')], outfile: script, bundle: true, platform: 'node', format: 'cjs', target: 'node20', minify: true, logLevel: 'warning' });
  const spawner = new Spawner({ entry: { execArgv: ['--max-semi-space-size=1'], script } });
  try {
    const held = holdHeap(heapMb);
    const opts = { maxOutput: 1024 };
    const direct = () => spawnDirect('true', [], opts);
    const helped = () => spawner.spawn('true', [], opts);
    await once(helped); // the helper's start-up is not part of a command's latency
    for (let i = 0; i < 10; i++) await Promise.all([once(direct), once(helped)].map((p) => p.catch(() => undefined)));
    const samples = { direct: [] as number[], spawner: [] as number[], helperFork: [] as number[] };
    for (let i = 0; i < runs; i++) {
      // Alternating which goes first, so neither always runs right after the other's fork.
      for (const which of i % 2 ? (['direct', 'spawner'] as const) : (['spawner', 'direct'] as const)) {
        const r = await once(which === 'direct' ? direct : helped);
        samples[which].push(r.ms);
        if (r.helperSpawnMs !== undefined) samples.helperFork.push(r.helperSpawnMs);
      }
    }
    const rss = { benchProcess: procStats(process.pid).rss, helper: spawner.helperPid ? procStats(spawner.helperPid).rss : null };
    const summary = { direct: percentiles(samples.direct), spawner: percentiles(samples.spawner), helperFork: percentiles(samples.helperFork) };
    writeResult('spawn', { unit: 'ms', runs, extraHeapMb: heapMb, command: 'true', rssBytes: rss, order: 'interleaved, alternating first', note: 'direct: spawn() from this process; spawner: request to the helper until its exit event arrives; helperFork: spawn() inside the helper', summary, samples });
    const f = (n: number) => n.toFixed(2);
    console.log(`\nspawn \`true\` with ${heapMb} MB extra heap (this process ${Math.round(rss.benchProcess / 1048576)} MB, helper ${rss.helper ? Math.round(rss.helper / 1048576) : '?'} MB resident), ${runs} each:`);
    for (const [k, s] of Object.entries(summary)) console.log(`  ${k.padEnd(10)} p50 ${f(s.p50)} ms  p95 ${f(s.p95)} ms  max ${f(s.max)} ms`);
    if (held.length !== heapMb * 5000) throw new Error('unreachable: keeps the heap alive until here');
  } finally {
    spawner.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
