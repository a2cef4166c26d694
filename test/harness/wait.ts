import net from 'node:net';
import { Cleanup } from './cleanup.js';
import { describeExit, exitMark, exitsSince, onUnexpectedExit } from './exits.js';
import { retryOnPortClash } from './ports.js';

export { isAddressInUse } from './ports.js';

/**
 * Ask the kernel for a free port on loopback (bind :0, read it, release it). The port is free
 * only at that moment: start what binds it through `withFreePort` / `retryOnPortClash`
 * (test/harness/ports.ts), and bind port 0 wherever the port need not be known in advance.
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
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
