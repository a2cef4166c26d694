import { readFileSync } from 'node:fs';
import { Cleanup } from './cleanup.js';

/**
 * Ports that must be written into a server's configuration before the server binds them (an
 * HAProxy frontend's or nginx's `ExternalPort`) can only come from `freePort`, which releases the
 * port again: another process may take it before the server binds it. Such starts go through
 * `retryOnPortClash`, and their waits use `bindFailure` as `stopIf`, so a clash is seen at once.
 * Where the port is not needed in advance (the daemon's API), bind port 0 instead.
 */

/** A server started by the harness whose bind errors can be read (HAProxy's output, nginx's error log). */
export interface BindingServer {
  readonly name: string;
  output(): string;
  readonly errorLog?: string;
}

const BIND_ERROR = /cannot bind socket|Address already in use|EADDRINUSE/i;

/** True when err is a start failure because the port was taken (a `freePort` race). */
export function isAddressInUse(err: unknown): boolean {
  return BIND_ERROR.test(String((err as Error)?.message ?? err));
}

/**
 * The bind failure `server` reported for one of `ports` ("cannot bind socket … [127.0.0.1:P]" from
 * HAProxy, "bind() to 127.0.0.1:P failed (98: Address already in use)" from nginx), or undefined.
 * Only lines naming one of `ports` count, so an earlier, unrelated failure is not picked up.
 */
export function bindFailure(server: BindingServer, ports: Iterable<number>): string | undefined {
  let text = server.output();
  if (server.errorLog) {
    try {
      text += `\n${readFileSync(server.errorLog, 'utf8')}`;
    } catch {
      // no error log yet
    }
  }
  const wanted = [...ports].map((p) => new RegExp(`:${p}(?!\\d)`));
  const line = text.split('\n').find((l) => BIND_ERROR.test(l) && wanted.some((re) => re.test(l)));
  // The reason keeps the server's words ("Address already in use"), so isAddressInUse() knows it.
  return line ? `${server.name} could not bind a port (Address already in use): ${line.trim()}` : undefined;
}

/**
 * Run `attempt` (which chooses its ports, starts what it needs under `scope` and waits until it
 * serves); when it fails because a port was taken meanwhile (isAddressInUse), stop everything that
 * attempt started and run it again with new ports, up to `attempts` times. Any other failure, or
 * the last one, is thrown. What the successful attempt started is stopped by `cleanup`.
 */
export async function retryOnPortClash<T>(
  cleanup: Cleanup,
  what: string,
  attempt: (scope: Cleanup, n: number) => Promise<T>,
  attempts = 4,
): Promise<T> {
  for (let n = 1; ; n++) {
    const scope = new Cleanup();
    try {
      const value = await attempt(scope, n);
      cleanup.add(() => scope.run());
      return value;
    } catch (err) {
      if (n >= attempts || !isAddressInUse(err)) {
        cleanup.add(() => scope.run());
        throw err;
      }
      const first = String((err as Error)?.message ?? err).split('\n')[0];
      process.stderr.write(`# ${what}: a port was taken (attempt ${n} of ${attempts}), starting again on new ports: ${first}\n`);
      await scope.run();
    }
  }
}
