import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Coalescer } from '../../src/sentinel/coalesce.js';

describe('Coalescer', () => {
  it('one run per key in flight; any number of requests meanwhile make exactly one more run', async () => {
    const c = new Coalescer();
    let runs = 0;
    let release!: () => void;
    const once = () => new Promise<void>((r) => ((release = r), runs++));
    const first = c.run('a', once);
    for (let i = 0; i < 5; i++) void c.run('a', once);
    void c.run('b', async () => void runs++); // another key is not held
    assert.equal(runs, 2);
    release();
    await new Promise((r) => setImmediate(r));
    assert.equal(runs, 3, 'one more run for the five requests');
    release();
    await first;
    assert.equal(runs, 3);
  });

  it('stops when a run returns false or `more` says no', async () => {
    const c = new Coalescer();
    let runs = 0;
    let release!: () => void;
    const p = c.run('a', () => new Promise<boolean>((r) => ((release = () => r(false)), runs++)));
    void c.run('a', async () => true);
    release();
    await p;
    assert.equal(runs, 1);
    const q = c.run('b', () => new Promise<void>((r) => ((release = r), runs++)), () => false);
    void c.run('b', async () => {});
    release();
    await q;
    assert.equal(runs, 2);
  });
});
