/**
 * The spawner helper's entry (see spawner.ts): a small Node process that forks commands for the
 * daemon. fork() copies the page tables of the forking process, so a fork from the daemon costs
 * more as its heap grows; this process holds little more than Node itself and stays that way.
 * It imports nothing but command.ts and protocol.ts; the build bundles it on its own.
 */
import { spawnDirect, type CommandProcess } from './command.js';
import { lineReader, type Event, type Request } from './protocol.js';

const running = new Map<number, CommandProcess>();

function send(e: Event): void {
  process.stdout.write(`${JSON.stringify(e)}\n`);
}

function run(r: Extract<Request, { op: 'run' }>): void {
  const t0 = performance.now();
  const child = spawnDirect(r.file, r.args, { env: r.env, cwd: r.cwd, input: r.input, maxOutput: r.maxOutput });
  running.set(r.id, child);
  send({ ev: 'started', id: r.id, pid: child.pid, spawnMs: performance.now() - t0 });
  // Counted as the caller counts (characters of each chunk decoded on its own), so it receives
  // exactly the chunks it would have kept from a direct spawn, and no more.
  let forwarded = 0;
  const forward = (ev: 'out' | 'err') => (chunk: Buffer) => {
    if (forwarded > r.maxOutput) return;
    const data = chunk.toString('utf8');
    forwarded += data.length;
    send({ ev, id: r.id, data });
  };
  child.stdout.on('data', forward('out'));
  child.stderr.on('data', forward('err'));
  child.on('exit', (code, signal) => send({ ev: 'exit', id: r.id, code, signal, runMs: performance.now() - t0 }));
  child.on('error', (err) => send({ ev: 'error', id: r.id, message: err.message }));
  child.on('close', () => {
    running.delete(r.id);
    send({ ev: 'close', id: r.id });
  });
}

function release(id: number): void {
  const child = running.get(id);
  if (!child) return;
  running.delete(id);
  child.stdout.destroy();
  child.stderr.destroy();
}

process.title = 'redishappy-spawner';
process.stdin.on(
  'data',
  lineReader((line) => {
    const r = JSON.parse(line) as Request;
    if (r.op === 'run') run(r);
    else release(r.id);
  }),
);
// The daemon is gone (or closed us): commands still running carry on, as they would have had
// the daemon forked them itself.
process.stdin.on('end', () => process.exit(0));
process.stdout.on('error', () => process.exit(0));
send({ ev: 'ready', pid: process.pid });
