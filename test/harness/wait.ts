import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cleanup } from './cleanup.js';
import { describeExit, exitMark, exitsSince, onUnexpectedExit } from './exits.js';
import { retryOnPortClash } from './ports.js';

export { isAddressInUse } from './ports.js';

/**
 * The kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range): every outgoing
 * connection (health checks, clients) and every bind to port 0 takes a port from it, so a port
 * chosen there can be taken within milliseconds. freePort chooses below it.
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 1024 ? low : 32768;
  } catch {
    return 32768;
  }
}
const CHOOSE_FROM = Math.max(10000, ephemeralLow() - 12000);
const CHOOSE_TO = ephemeralLow() - 1;

/**
 * Ports handed out stay reserved for the life of the test process, across the test files that run
 * side by side (each in its own process): a server killed and started again on its port (a
 * sentinel restarted with a new config) would otherwise find it taken by another file's new server.
 * One marker file per port, holding the pid; a marker whose process is gone is taken over.
 */
const RESERVED = join(tmpdir(), 'rh-test-ports');
const mine: string[] = [];
process.once('exit', () => mine.forEach((f) => rmSync(f, { force: true })));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function reserve(port: number): boolean {
  const marker = join(RESERVED, String(port));
  try {
    mkdirSync(RESERVED, { recursive: true });
    writeFileSync(marker, String(process.pid), { flag: 'wx' });
  } catch {
    let owner = 0;
    try {
      owner = Number(readFileSync(marker, 'utf8'));
    } catch {
      return false;
    }
    if (owner === process.pid || (owner > 0 && alive(owner))) return false;
    writeFileSync(marker, String(process.pid));
  }
  mine.push(marker);
  return true;
}

function tryListen(port: number, host: string): Promise<number | null> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', () => resolve(null));
    srv.listen(port, host, () => {
      const got = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(got));
    });
  });
}

/**
 * A port free on `host` right now (bound once, then released), chosen at random below the
 * kernel's ephemeral range, where neither outgoing connections nor port-0 binds take ports; the
 * kernel's own choice (port 0) if none is free there. The port is free only at that moment:
 * start what binds it through `withFreePort` / `retryOnPortClash` (test/harness/ports.ts), and
 * bind port 0 wherever the port need not be known in advance.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  if (CHOOSE_TO > CHOOSE_FROM) {
    for (let i = 0; i < 40; i++) {
      const candidate = CHOOSE_FROM + Math.floor(Math.random() * (CHOOSE_TO - CHOOSE_FROM + 1));
      if (!reserve(candidate)) continue;
      const port = await tryListen(candidate, host);
      if (port !== null) return port;
    }
  }
  const port = await tryListen(0, host);
  if (port === null) throw new Error(`no free port on ${host}`);
  return port;
}

/**
 * Poll until fn returns a truthy value; bounded by timeoutMs, reports the last error seen.
 * Fails at once when a harness-started child (redis, sentinel, haproxy) exits without the test
 * having killed it (`failOnExit: false` to allow that, e.g. while the test expects crashes).
 */
export async function waitFor<T>(
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  opts: { timeoutMs: number; intervalMs?: number; what: string; failOnExit?: boolean; /** Give up at once when this returns a reason. */ stopIf?: () => string | undefined },
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const failOnExit = opts.failOnExit ?? true;
  const mark = exitMark();
  const checkExits = () => {
    const crashed = failOnExit ? exitsSince(mark) : [];
    if (crashed.length > 0) throw new Error(`while waiting for ${opts.what}: ${describeExit(crashed[0]!)}`);
    const stop = opts.stopIf?.();
    if (stop) throw new Error(`gave up waiting for ${opts.what}: ${stop}`);
  };
  let lastError: unknown;
  for (;;) {
    checkExits();
    try {
      const value = await fn();
      if (value) return value as T;
    } catch (err) {
      lastError = err;
    }
    checkExits();
    if (Date.now() >= deadline) {
      const why = lastError ? ` (last error: ${(lastError as Error).message ?? String(lastError)})` : '';
      throw new Error(`timed out after ${opts.timeoutMs}ms waiting for ${opts.what}${why}`);
    }
    // Sleep until the next poll, or until a child exits unexpectedly.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, opts.intervalMs ?? 50);
      const off = failOnExit ? onUnexpectedExit(done) : () => {};
      function done() {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  }
}


/**
 * Start something on a port from `freePort`, picking another port and trying again when another
 * process took it between `freePort` and the bind (up to `attempts` times).
 */
export async function withFreePort<T>(host: string, start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  // `start` registers what it spawns with the caller's Cleanup: nothing to stop per attempt here.
  return retryOnPortClash(new Cleanup(), `start on a free ${host} port`, async () => start(await freePort(host)), attempts);
}

/** p, or a rejection naming `what` after ms; the timer is cleared either way (nothing left behind). */
export async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms waiting for ${what}`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
