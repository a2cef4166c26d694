import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { Cleanup } from '../harness/index.js';
import type { DaemonProcess } from './daemon-process.js';

/** Lines in the reload log written by prepareHaproxy's ReloadCommand. */
export const reloadCount = (path: string): number => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).length : 0);

/** A redishappy JSON config as the tests edit it (loosely typed on purpose). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type LooseConfig = Record<string, any>;

/** Read a JSON config file, change it, write it back. */
export function editJson(path: string, edit: (cfg: LooseConfig) => void): void {
  const cfg = JSON.parse(readFileSync(path, 'utf8')) as LooseConfig;
  edit(cfg);
  writeFileSync(path, JSON.stringify(cfg));
}

/** Log lines (parsed JSON) whose msg starts with the given text. */
export function logged(d: DaemonProcess, msgStart: string): Array<Record<string, unknown>> {
  return d.logs().filter((l) => typeof l.msg === 'string' && l.msg.startsWith(msgStart));
}

/** Is anything accepting TCP connections on 127.0.0.1:port? */
export function accepts(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

/** A unix socket server that accepts connections and never answers (a hung HAProxy runtime API). */
export async function silentSocket(cleanup: Cleanup, path: string): Promise<{ connections: () => number }> {
  let count = 0;
  const held: net.Socket[] = [];
  const server = net.createServer((s) => {
    count++;
    held.push(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, () => resolve()));
  cleanup.add(() => new Promise<void>((resolve) => {
    for (const s of held) s.destroy();
    server.close(() => resolve());
  }));
  return { connections: () => count };
}
