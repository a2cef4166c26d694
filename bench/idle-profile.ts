/**
 * Where an idle daemon with many clusters spends its CPU (issue 23's "1,000 clusters: idle CPU"
 * row). The same fixture as the bench's scale scenario: the stand-in sentinel with N masters and a
 * stand-in ROLE server, production Watcher defaults, reload command `true`. The daemon runs from
 * the sources with --cpu-prof; after the first complete file and a settle time, CPU is sampled for
 * IDLE_S seconds from /proc, then the daemon gets SIGTERM (a clean exit writes the profile). Only
 * the profile's samples inside the idle window are counted. Prints CPU %, and self time by
 * function and by file.
 *
 *   node --import tsx bench/idle-profile.ts          (CLUSTERS=1000 IDLE_S=30 WATCHER='{"PollIntervalMs":1000}' NODE_FLAGS=...;
 *                                                     PROFILE=0: CPU % only, without the profiler's own cost;
 *                                                     SOURCE=0: the bundle in dist/ as packages run it)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup, freePort, waitFor } from '../test/harness/index.js';
import { ROOT, procStats } from './lib.js';
import { ManyMastersSentinel, roleMasterServer } from './stand-in-sentinel.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const n = Number(process.env.CLUSTERS ?? 1000);
const idleS = Number(process.env.IDLE_S ?? 30);
// As the launchers start it (bin/*.js's shebang); NODE_FLAGS='' for Node's defaults.
const nodeFlags = (process.env.NODE_FLAGS ?? '--max-semi-space-size=1').split(' ').filter(Boolean);
const watcher = JSON.parse(process.env.WATCHER ?? '{}') as Record<string, unknown>;
const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/** Self time (µs) per key, for the samples whose time falls in [from, to] (profile clock, µs). */
function selfTime(p: Profile, from: number, to: number, key: (node: ProfileNode) => string): Map<string, number> {
  const byId = new Map(p.nodes.map((node) => [node.id, node]));
  const out = new Map<string, number>();
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i] ?? 0;
    t += dt;
    if (t < from || t > to) return;
    const k = key(byId.get(id)!);
    out.set(k, (out.get(k) ?? 0) + (p.timeDeltas[i + 1] ?? 0));
  });
  return out;
}

/** Inclusive time (µs) per function of ours (src/), for the samples in [from, to]: what each task costs with its callees. */
function inclusiveTime(p: Profile, from: number, to: number): Map<string, number> {
  const parent = new Map<number, number>();
  for (const node of p.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const byId = new Map(p.nodes.map((node) => [node.id, node]));
  const out = new Map<string, number>();
  let t = p.startTime;
  p.samples.forEach((id, i) => {
    t += p.timeDeltas[i] ?? 0;
    if (t < from || t > to) return;
    const dt = p.timeDeltas[i + 1] ?? 0;
    const seen = new Set<string>();
    for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) {
      const cf = byId.get(x)!.callFrame;
      if (!cf.url.includes('/src/')) continue;
      const k = `${cf.functionName || '(anonymous)'} ${cf.url.replace(/^.*\/src\//, 'src/')}`;
      if (!seen.has(k)) out.set(k, (out.get(k) ?? 0) + dt);
      seen.add(k);
    }
  });
  return out;
}

function top(m: Map<string, number>, total: number, count: number): string[] {
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, count).map(([k, us]) => `${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${k}`);
}

/** utime and stime (ms) of every thread of a process, by thread id, with the thread's name. */
function threadTimes(pid: number): Map<string, { name: string; userMs: number; sysMs: number }> {
  const out = new Map<string, { name: string; userMs: number; sysMs: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const raw = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')'));
      const f = raw.slice(raw.lastIndexOf(') ') + 2).split(' ');
      out.set(tid, { name, userMs: Number(f[11]) * 10, sysMs: Number(f[12]) * 10 });
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** Per thread name: CPU over the window, user and system apart (the main thread is the one whose id is the pid). */
function threadSplit(before: ReturnType<typeof threadTimes>, after: ReturnType<typeof threadTimes>, windowMs: number): string[] {
  const sums = new Map<string, { userMs: number; sysMs: number; threads: number }>();
  for (const [tid, a] of after) {
    const b = before.get(tid) ?? { userMs: 0, sysMs: 0 };
    const key = tid === [...after.keys()].sort((x, y) => Number(x) - Number(y))[0] ? `${a.name} (main)` : process.env.BY_THREAD ? `${a.name}#${tid}` : a.name;
    const s = sums.get(key) ?? { userMs: 0, sysMs: 0, threads: 0 };
    s.userMs += a.userMs - b.userMs;
    s.sysMs += a.sysMs - b.sysMs;
    s.threads++;
    sums.set(key, s);
  }
  return [...sums].sort((x, y) => y[1].userMs + y[1].sysMs - (x[1].userMs + x[1].sysMs)).map(([k, s]) => `  ${k.padEnd(22)} x${s.threads}  user ${String(s.userMs).padStart(6)} ms  system ${String(s.sysMs).padStart(6)} ms  ${((100 * (s.userMs + s.sysMs)) / windowMs).toFixed(2)} %`);
}

const cleanup = new Cleanup();
try {
  const a = await roleMasterServer();
  cleanup.add(() => a.close());
  const names = Array.from({ length: n }, (_, i) => `s${String(i).padStart(4, '0')}`);
  const sentinel = new ManyMastersSentinel(names, a.port);
  await sentinel.start();
  cleanup.add(() => sentinel.stop());
  const dir = mkdtempSync(join(tmpdir(), 'rh-idle-profile-'));
  const template = join(dir, 'tpl.cfg');
  const listener = await freePort();
  writeFileSync(template, `defaults\n mode tcp\n timeout client 60s\n timeout connect 1s\n timeout server 60s\nfrontend ft_stats\n bind 127.0.0.1:${listener}\n{{range .Clusters}}\nbackend bk_{{ .Name }}\n server R_{{ .Name }}_1 {{ .Ip }}:{{ .Port }} check\n{{end}}\n`);
  const output = join(dir, 'haproxy.cfg');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ Clusters: names.map((name, i) => ({ Name: name, ExternalPort: 20000 + i })), Sentinels: [{ Host: '127.0.0.1', Port: sentinel.port }], Watcher: watcher, Syslog: { Enabled: false }, HAProxy: { TemplatePath: template, OutputPath: output, ReloadCommand: 'true', ...(process.env.VERIFY === '0' ? { Verify: false } : {}) } }));
  const profDir = join(dir, 'prof');
  const apiPort = await freePort();
  const profiling = process.env.PROFILE !== '0';
  const child = spawn(process.execPath, [...nodeFlags, ...(profiling ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), `${ROOT}bin/redishappy-haproxy.js`, '-config', config, '-bind', `127.0.0.1:${apiPort}`, '--log-level', 'warn'], { cwd: dir, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '1', REDISHAPPY_FROM_SOURCE: process.env.SOURCE === '0' ? '' : '1' } });
  cleanup.add(() => void child.kill('SIGKILL'));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const complete = () => existsSync(output) && (readFileSync(output, 'utf8').match(/ server R_/g) ?? []).length === n;
  await waitFor(complete, { timeoutMs: 120000, intervalMs: 50, what: 'first complete file' });
  await sleep(5000); // start-up work (first discovery round, replica lists, pre-validation) is over
  const spawnedAt = performance.timeOrigin;
  const idleFrom = performance.now();
  const before = procStats(child.pid!);
  const threadsBefore = threadTimes(child.pid!);
  await sleep(idleS * 1000);
  const after = procStats(child.pid!);
  const threadsAfter = threadTimes(child.pid!);
  const idleTo = performance.now();
  const cpuPercent = ((after.cpuMs - before.cpuMs) / (idleTo - idleFrom)) * 100;
  console.log(`per thread over the idle window (user + system ms; % of one core):`);
  for (const line of threadSplit(threadsBefore, threadsAfter, idleTo - idleFrom)) console.log(line);
  child.kill('SIGTERM');
  await exited;
  const exitAt = performance.now();
  if (!profiling) {
    console.log(`clusters ${n}, Watcher ${JSON.stringify(watcher)}, node ${nodeFlags.join(' ')}, idle ${idleS} s, no profiler: idle CPU from /proc ${cpuPercent.toFixed(2)} % (${(after.cpuMs - before.cpuMs).toFixed(0)} ms), RSS ${(after.rss / 1048576).toFixed(1)} MB`);
    process.exit(0);
  }
  // CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile: thread 0 is the main thread (tsx's loader has its own).
  const file = readdirSync(profDir).find((f) => /\.0\.\d+\.cpuprofile$/.test(f));
  if (!file) throw new Error('no .cpuprofile written (the daemon did not exit cleanly on SIGTERM)');
  const p = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as Profile;
  // The profile's clock is not ours: place the window by its distance from the end (the exit).
  const to = p.endTime - (exitAt - idleTo) * 1000;
  const from = to - (idleTo - idleFrom) * 1000;
  const fn = selfTime(p, from, to, (node) => `${node.callFrame.functionName || '(anonymous)'} ${node.callFrame.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${node.callFrame.lineNumber + 1}`);
  const byFile = selfTime(p, from, to, (node) => node.callFrame.url.replace(/^.*\/(node_modules\/[^/]+|src\/[^/]+)\/.*$/, '$1') || `(${node.callFrame.functionName})`);
  const total = [...fn].filter(([k]) => !k.startsWith('(idle)')).reduce((s, [, v]) => s + v, 0);
  console.log(`clusters ${n}, Watcher ${JSON.stringify(watcher)}, node ${nodeFlags.join(' ')}, idle ${idleS} s (spawned at ${new Date(spawnedAt).toISOString()})`);
  console.log(`idle CPU from /proc: ${cpuPercent.toFixed(2)} % (${(after.cpuMs - before.cpuMs).toFixed(0)} ms); JavaScript and GC samples: ${(total / 1000).toFixed(0)} ms`);
  console.log('\nself time by function (idle window, non-idle samples):');
  for (const l of top(new Map([...fn].filter(([k]) => !k.startsWith('(idle)'))), total, 25)) console.log(l);
  console.log('\ninclusive time of our functions (with their callees):');
  for (const l of top(inclusiveTime(p, from, to), total, 20)) console.log(l);
  console.log('\nself time by package / source folder:');
  for (const l of top(new Map([...byFile].filter(([k]) => k !== '((idle))')), total, 15)) console.log(l);
  writeFileSync(join(dir, 'summary.json'), JSON.stringify({ clusters: n, idleS, watcher, cpuPercent, profile: join(profDir, file) }));
  console.log(`\nprofile: ${join(profDir, file)}`);
} finally {
  await cleanup.run();
}
