import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeGoFlags } from '../../src/cli/args.js';
import { parseBind, resolveBind } from '../../src/api/bind.js';

describe('command line', () => {
  it('accepts the original Go-style flags', () => {
    assert.deepEqual(normalizeGoFlags(['-config', 'x.json', '-log=/var/log/r', '--bind', ':1', '-v', '-h']), ['--config', 'x.json', '--log=/var/log/r', '--bind', ':1', '-v', '-h']);
    assert.deepEqual(normalizeGoFlags(['-check-config', '-log-level', 'debug']), ['--check-config', '--log-level', 'debug']);
    assert.deepEqual(normalizeGoFlags(['-unknownthing']), ['-unknownthing']);
  });

  it('resolves the API address like the original: -bind, BIND/GOJI_BIND, PORT, :8000', () => {
    assert.deepEqual(resolveBind(undefined, {}), { value: ':8000', source: 'default' });
    assert.deepEqual(resolveBind(undefined, { PORT: '9000' }), { value: ':9000', source: 'PORT' });
    assert.deepEqual(resolveBind(undefined, { GOJI_BIND: '127.0.0.1:1', PORT: '9' }), { value: '127.0.0.1:1', source: 'GOJI_BIND' });
    assert.deepEqual(resolveBind('[::1]:2', { BIND: 'x' }), { value: '[::1]:2', source: '-bind' });
    assert.deepEqual(parseBind(':8000', 'd'), { kind: 'tcp', host: '::', port: 8000 });
    assert.deepEqual(parseBind('[::1]:8000', 'd'), { kind: 'tcp', host: '::1', port: 8000 });
    assert.deepEqual(parseBind('/run/x.sock', 'd'), { kind: 'unix', path: '/run/x.sock' });
    assert.throws(() => parseBind('nonsense', '-bind'), /-bind: "nonsense" is not a listen address/);
    assert.throws(() => parseBind('fd@3', 'GOJI_BIND'), /not supported/);
  });
});
