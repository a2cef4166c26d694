import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from './cleanup.js';
import { Proc, type ManagedProcess } from './process.js';
import { waitFor } from './wait.js';

export const NGINX = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ?? 'nginx';
/** Debian ships the stream module separately (libnginx-mod-stream). */
export const NGINX_STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

export interface NginxProcess extends ManagedProcess {
  configPath: string;
  prefix: string;
  pidFile: string;
  errorLog: string;
}

/**
 * The top of an nginx config for tests: everything nginx writes (pid, error log) inside `dir`,
 * the stream module loaded, one worker. `daemon off;` is given on the command line.
 */
export function nginxHead(dir: string): string {
  return `load_module ${NGINX_STREAM_MODULE};
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 256; }
`;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * nginx in the foreground (`-g 'daemon off;'`, master + workers), with its own prefix, pid file
 * and error log in `dir` (the config must name the same pid file: see nginxHead). Ready once the
 * pid file names the master and, if given, `waitForPort` accepts connections.
 */
export async function startNginx(cleanup: Cleanup, opts: { configPath: string; dir?: string; waitForPort?: number }): Promise<NginxProcess> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'rh-nginx-'));
  const pidFile = join(dir, 'nginx.pid');
  const proc: Proc = new Proc(
    'nginx',
    NGINX,
    ['-p', dir, '-e', join(dir, 'error.log'), '-c', opts.configPath, '-g', 'daemon off;'],
    async () => {
      await waitFor(
        async () => {
          if (!proc.running) throw new Error(`nginx exited: ${proc.output()}`);
          if (!existsSync(pidFile) || readFileSync(pidFile, 'utf8').trim() !== String(proc.pid)) return false;
          return opts.waitForPort ? canConnect(opts.waitForPort) : true;
        },
        { timeoutMs: 10000, what: 'nginx to start' },
      );
    },
    cleanup,
    true,
  );
  await proc.start();
  return Object.assign(proc, { configPath: opts.configPath, prefix: dir, pidFile, errorLog: join(dir, 'error.log') });
}

/**
 * Pids of the workers of this nginx that still accept new connections (not shutting down).
 * `nginx -s reload` only sends a signal: the master starts new workers, waits about 100 ms, and
 * only then tells the old ones to stop accepting, so for a moment both old and new configs serve.
 */
export function acceptingWorkers(nginx: NginxProcess): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== nginx.pid) continue;
      const title = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (title.includes('worker process') && !title.includes('shutting down')) out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out;
}
