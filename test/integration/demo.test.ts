import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Keeps the README's first command true: the demo starts everything and follows a failover. */
describe('npm run demo', { timeout: 90000 }, () => {
  it('starts redis, sentinels, haproxy and redishappy, prints the status page address first, follows a failover, and stops cleanly', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--smoke'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 80000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(timer);
    assert.equal(code, 0, out.slice(-3000));
    // The status page's address comes first, before anything starts.
    const first = stdout.split('\n')[0] ?? '';
    const page = /^Status page: (http:\/\/127\.0\.0\.1:\d+\/) /.exec(first);
    assert.ok(page, `the first line is the status page's address: ${JSON.stringify(first)}`);
    assert.match(out, /redishappy demo is running/);
    assert.match(stdout.slice(stdout.indexOf('redishappy demo is running')), new RegExp(`Status page: +${page[1]!.replace(/[.]/g, '\\.')} `), 'the same address once everything runs');
    assert.match(out, /smoke: failover followed/);
  });
});
