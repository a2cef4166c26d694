import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Keeps the README's first command true: the demo starts everything and follows a failover. */
describe('npm run demo', { timeout: 90000 }, () => {
  it('starts redis, sentinels, haproxy and redishappy, follows a failover, and stops cleanly', async () => {
    const root = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--smoke'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 80000);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(timer);
    assert.equal(code, 0, out.slice(-3000));
    assert.match(out, /redishappy demo is running/);
    assert.match(out, /smoke: failover followed/);
  });
});
