/**
 * Idle memory of our daemon under different launcher settings, all running at once over the same
 * window (1 cluster, 3 real sentinels, production watcher, HAProxy file with a no-op reload).
 * Each variant gets its own bundle, built with its own flags (the code cache must match them).
 * Prints RSS and the heap figures from /metrics after IDLE_S seconds, and the idle CPU.
 *
 *   node --import tsx bench/idle-memory.ts        (IDLE_S=30)
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup, freePort, startCluster, waitFor } from '../test/harness/index.js';
import { prepareHaproxy } from '../test/support/haproxy-setup.js';
import { ROOT, procStats, startDaemon } from './lib.js';

const idleS = Number(process.env.IDLE_S ?? 30);
const SEMI = '--max-semi-space-size=1';
const variants: Array<{ name: string; flags: string; env?: Record<string, string> }> = [
  { name: 'launcher today', flags: SEMI },
  { name: 'no code cache', flags: SEMI, env: { REDISHAPPY_CODE_CACHE: '0' } },
  { name: '+ --lite-mode', flags: `${SEMI} --lite-mode` },
  { name: '+ --optimize-for-size', flags: `${SEMI} --optimize-for-size` },
  { name: '+ --single-threaded', flags: `${SEMI} --single-threaded` },
  { name: '+ MALLOC_ARENA_MAX=2', flags: SEMI, env: { MALLOC_ARENA_MAX: '2' } },
  ...(process.env.VARIANTS_EXTRA ? [{ name: process.env.VARIANTS_EXTRA, flags: `${SEMI} ${process.env.VARIANTS_EXTRA}` }] : []),
];

const cleanup = new Cleanup();
try {
  const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
  const setup = await prepareHaproxy(cleanup, cluster, { runtime: false, extra: { Watcher: {} } });
  const base = JSON.parse(readFileSync(setup.configPath, 'utf8')) as { HAProxy: Record<string, unknown> };
  const master = cluster.masters.get('testing')!.port;
  const running = [];
  for (const [i, v] of variants.entries()) {
    const dir = mkdtempSync(join(tmpdir(), 'rh-idle-mem-'));
    execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), dir], { stdio: 'pipe', env: { ...process.env, BUILD_NODE_FLAGS: v.flags } });
    const runner = join(dir, 'run.mjs');
    writeFileSync(runner, `const { main } = await import(${JSON.stringify(join(dir, 'redishappy.js'))});\nawait main('haproxy');\n`);
    const out = join(dir, 'out.cfg');
    writeFileSync(out, '');
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ ...base, HAProxy: { TemplatePath: base.HAProxy.TemplatePath, OutputPath: out, ReloadCommand: 'true' } }));
    const apiPort = await freePort();
    Object.assign(process.env, v.env ?? {});
    const daemon = startDaemon(cleanup, { key: 'ours', template: `${process.execPath} ${v.flags} ${runner} -config {config} -bind {bind} --log-level warn` }, config, `127.0.0.1:${apiPort}`);
    for (const k of Object.keys(v.env ?? {})) delete process.env[k];
    running.push({ v, daemon, apiPort, out, i });
  }
  for (const r of running) await waitFor(() => readFileSync(r.out, 'utf8').includes(`:${master}`), { timeoutMs: 30000, what: `${r.v.name}: file written` });
  // The API is built after the first apply: ask once so every variant has it loaded.
  for (const r of running) await fetch(`http://127.0.0.1:${r.apiPort}/api/ping`);
  await new Promise((res) => setTimeout(res, 3000));
  const start = running.map((r) => ({ ...procStats(r.daemon.child.pid!), t: performance.now() }));
  await new Promise((res) => setTimeout(res, idleS * 1000));
  console.log(`after ${idleS} s idle:`);
  console.log('variant                      RSS MB   heap total/used MB   external MB   CPU %');
  for (const [i, r] of running.entries()) {
    const end = procStats(r.daemon.child.pid!);
    const cpu = ((end.cpuMs - start[i]!.cpuMs) / (performance.now() - start[i]!.t)) * 100;
    const m = await (await fetch(`http://127.0.0.1:${r.apiPort}/metrics`)).text();
    const val = (name: string) => Number(new RegExp(`^redishappy_${name} ([\\d.e+]+)$`, 'm').exec(m)?.[1] ?? NaN) / 1048576;
    console.log(`${r.v.name.padEnd(28)} ${(end.rss / 1048576).toFixed(1).padStart(6)}   ${val('nodejs_heap_size_total_bytes').toFixed(1).padStart(6)} / ${val('nodejs_heap_size_used_bytes').toFixed(1).padStart(5)}   ${val('nodejs_external_memory_bytes').toFixed(1).padStart(10)}   ${cpu.toFixed(2)}`);
  }
} finally {
  await cleanup.run();
}
