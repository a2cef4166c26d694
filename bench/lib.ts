import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Cleanup } from '../test/harness/index.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The daemon under test: BENCH_DAEMON_CMD with {config} and {bind}, default our redishappy-haproxy. */
export function daemonCommand(config: string, bind: string): string[] {
  const template = process.env.BENCH_DAEMON_CMD ?? `${process.execPath} ${ROOT}bin/redishappy-haproxy.js -config {config} -bind {bind} --log-level warn`;
  return template.replace('{config}', config).replace('{bind}', bind).split(' ').filter(Boolean);
}

export function startDaemon(cleanup: Cleanup, config: string, bind: string): ChildProcess {
  const [cmd, ...args] = daemonCommand(config, bind);
  const child = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  return child;
}

/** Resident memory (bytes) and CPU time (ms) of a process, from /proc. */
export function procStats(pid: number): { rss: number; cpuMs: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  const ticks = Number(stat[11]) + Number(stat[12]);
  return { rss, cpuMs: (ticks * 1000) / 100 };
}

export function percentiles(samples: number[]): { n: number; p50: number; p95: number; max: number; min: number } {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { n: s.length, min: s[0] ?? NaN, p50: at(0.5), p95: at(0.95), max: s.at(-1) ?? NaN };
}

export function machine(): Record<string, unknown> {
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0];
    } catch {
      return 'unknown';
    }
  };
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryBytes: totalmem(),
    node: process.version,
    redis: version('redis-server', ['--version']),
    haproxy: version('/usr/sbin/haproxy', ['-v']),
    daemon: process.env.BENCH_DAEMON_CMD ?? 'redishappy-haproxy (this repository)',
    bundled: false,
    date: new Date().toISOString(),
  };
}

export function writeResult(name: string, data: Record<string, unknown>): void {
  mkdirSync(`${ROOT}bench/results`, { recursive: true });
  writeFileSync(`${ROOT}bench/results/${name}.json`, `${JSON.stringify({ name, machine: machine(), ...data }, null, 2)}\n`);
}
