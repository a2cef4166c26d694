import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KnownFile, RACY_MS, knownStillHolds } from '../../src/outputs/file/known-file.js';

const dir = mkdtempSync(join(tmpdir(), 'rh-known-file-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('KnownFile: the output file without reading it again', () => {
  it('a file unchanged since it was read (and not racily new) is not read again', async () => {
    const path = join(dir, 'a.cfg');
    writeFileSync(path, 'one\n');
    const later = () => Date.now() + RACY_MS + 1000;
    const f = new KnownFile(path, later);
    assert.equal(await f.read(), 'one\n');
    assert.equal(await f.read(), 'one\n');
    assert.equal(await f.read(), 'one\n');
    assert.equal(f.reads, 1, 'one read, then stats only');
  });

  it('sees every change: same size in place, an atomic replace, a removal', async () => {
    const path = join(dir, 'b.cfg');
    writeFileSync(path, 'aaaa\n');
    const later = () => Date.now() + RACY_MS + 1000;
    const f = new KnownFile(path, later);
    assert.equal(await f.read(), 'aaaa\n');
    writeFileSync(path, 'bbbb\n'); // same size, same inode: mtime and ctime move
    assert.equal(await f.read(), 'bbbb\n');
    writeFileSync(join(dir, 'b.tmp'), 'cccc\n');
    renameSync(join(dir, 'b.tmp'), path); // a new inode
    assert.equal(await f.read(), 'cccc\n');
    unlinkSync(path);
    assert.equal(await f.read(), null);
    writeFileSync(path, 'dddd\n');
    assert.equal(await f.read(), 'dddd\n');
  });

  it('reads a file changed within RACY_MS every time (coarse timestamps could hide a rewrite)', async () => {
    const path = join(dir, 'c.cfg');
    writeFileSync(path, 'x\n');
    const f = new KnownFile(path);
    await f.read();
    await f.read();
    assert.equal(f.reads, 2);
  });

  it('knownStillHolds: same stat and older than RACY_MS only', () => {
    const st = { ino: 1, size: 10, mtimeMs: 1000, ctimeMs: 1000 };
    assert.equal(knownStillHolds(st, { ...st }, 1000 + RACY_MS + 1), true);
    assert.equal(knownStillHolds(st, { ...st }, 1000 + RACY_MS), false);
    for (const k of ['ino', 'size', 'mtimeMs', 'ctimeMs'] as const) assert.equal(knownStillHolds(st, { ...st, [k]: st[k] + 1 }, 1e9), false, k);
  });
});
