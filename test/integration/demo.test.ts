import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { descendants, pidAlive, useCleanup, waitFor, within } from '../harness/index.js';

/** Keeps the README's first command true: the demo starts everything, follows a failover, and Ctrl-C ends it cleanly. */
describe('npm run demo', { timeout: 120000 }, () => {
  const cleanup = useCleanup();

  it('starts redis, sentinels, haproxy and redishappy, prints the status page address first and readable logs, follows a failover, and on SIGINT stops every child and exits 0', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    // Through npm, as the README says: npm forwards SIGINT to the script and exits with its code.
    // Its own process group, so that a failed test can kill everything in it at once (below).
    const child = spawn('npm', ['run', '--silent', 'demo', '--', '--smoke'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    let out = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // Should an assertion fail, nothing the demo started outlives the test (or keeps its output pipes open).
    cleanup.add(async () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
      await within(exited, 10000, 'npm to exit after SIGKILL');
    });

    await waitFor(() => /smoke: failover followed/.test(stdout), { timeoutMs: 90000, what: 'the demo to follow a failover', stopIf: () => (child.exitCode !== null || child.signalCode !== null ? `the demo exited early:\n${out.slice(-3000)}` : undefined) });
    // The status page's address comes first, before anything starts.
    const first = stdout.split('\n')[0] ?? '';
    const page = /^Status page: (http:\/\/127\.0\.0\.1:\d+\/) /.exec(first);
    assert.ok(page, `the first line is the status page's address: ${JSON.stringify(first)}`);
    const running = stdout.slice(stdout.indexOf('redishappy demo is running'));
    // (or the last it moved to, should a port clash have restarted the daemon on another one)
    const moved = [...stdout.slice(0, stdout.indexOf('redishappy demo is running')).matchAll(/the status page moves to: (\S+)/g)].at(-1);
    assert.match(running, new RegExp(`Status page: +${(moved?.[1] ?? page[1]!).replace(/[.]/g, '\\.')} `), 'the same address once everything runs');
    // The daemon's log is readable (not JSON) and its failover line is marked.
    assert.match(stdout, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}>>> failover: new master confirmed cluster=testing from=127\.0\.0\.1:\d+ to=127\.0\.0\.1:\d+/m);
    assert.ok(!/^\{"level"/m.test(stdout), 'no JSON log lines');

    const children = descendants(child.pid!);
    const count = (comm: string) => children.filter((c) => c.comm.startsWith(comm)).length;
    assert.ok(count('redis-') >= 5 && count('haproxy') >= 1 && count('node') >= 2, `master, replica, 3 sentinels, HAProxy, the demo and the daemon run under npm: ${JSON.stringify(children)}`);

    child.kill('SIGINT');
    const end = await within(exited, 30000, 'the demo to exit after SIGINT');
    assert.deepEqual(end, { code: 0, signal: null }, out.slice(-3000));
    assert.match(stdout, /Ctrl-C: stopping everything it started/);
    for (const name of ['redishappy-haproxy', 'haproxy', 'sentinel:', 'redis:']) assert.match(stdout, new RegExp(`^  stopped ${name}\\S* \\(pid \\d+\\)$`, 'm'), `says it stopped ${name}`);
    assert.match(stdout, /^demo stopped: 7 processes stopped, its files are kept in \S+\. Goodbye\.$/m);
    // A grandchild (HAProxy's worker) may take a moment more to go after its parent.
    await waitFor(() => children.every((c) => !pidAlive(c.pid)), { timeoutMs: 10000, what: 'every process the demo started to be gone' }).catch(() => {});
    assert.deepEqual(children.filter((c) => pidAlive(c.pid)), [], 'every process the demo started is gone');
  });
});
