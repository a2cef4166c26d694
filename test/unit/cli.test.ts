import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { normalizeGoFlags } from '../../src/cli/args.js';
import { checkConfigReport, plannedOutputs } from '../../src/cli/main.js';
import { createOutputs } from '../../src/cli/daemon.js';
import { parseBind, resolveBind } from '../../src/api/bind.js';
import { parseConfigText, type Flavour } from '../../src/config/load.js';

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

describe('--check-config report', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rh-check-'));
  const template = join(dir, 't.tmpl');
  writeFileSync(template, '{{range .Clusters}}{{.Name}}{{end}}\n');
  /** Every kind of output, plus unknown keys at three depths. */
  const text = JSON.stringify({
    Clusters: [{ Name: 'a', ExternalPort: 6379, Typo: 1 }],
    Sentinels: [{ Host: 'h', Port: 26379 }],
    Extra: true,
    HAProxy: { TemplatePath: template, OutputPath: join(dir, 'haproxy.cfg'), ReloadCommand: 'true', RuntimeSocket: '/run/haproxy/admin.sock' },
    Consul: { Mode: 'catalog', Address: '10.0.0.1:8500' },
    Templates: [
      { Name: 'nginx', TemplatePath: template, OutputPath: join(dir, 'nginx.conf'), ValidateCommand: 'nginx -t -q -c {file}', ReloadCommand: 'nginx -s reload', Oops: 1 },
      { Name: 'masters-env', TemplatePath: template, OutputPath: join(dir, 'masters.env') },
    ],
    Exec: [{ Command: '/bin/true' }, { Command: '/bin/false' }],
    Webhook: [{ Url: 'http://127.0.0.1:1/hook' }],
  });
  const load = (flavour: Flavour) => parseConfigText(text, 'c.json', {}, flavour);

  for (const flavour of ['auto', 'haproxy', 'consul'] as const) {
    it(`${flavour}: lists the outputs the daemon creates, by name, in its order`, () => {
      const { config } = load(flavour);
      const created = createOutputs(flavour, config, pino({ level: 'silent' })).map((o) => o.name);
      assert.deepEqual(plannedOutputs(flavour, config).map((o) => o.name), created);
    });
  }

  it('names each output with its kind and what it writes, and shows every warning', () => {
    const report = checkConfigReport('c.json', 'haproxy', load('haproxy'));
    const lines = report.trimEnd().split('\n');
    assert.equal(lines[0], 'c.json: configuration OK (1 cluster(s), 1 sentinel(s), 5 output(s), 3 warning(s))');
    assert.equal(lines[1], 'outputs run by redishappy-haproxy:');
    const rows = lines.slice(2, 7).map((l) => l.trim().split(/\s+/).slice(0, 2));
    assert.deepEqual(rows, [['haproxy', 'haproxy'], ['nginx', 'template'], ['masters-env', 'template'], ['exec', 'exec'], ['webhook', 'webhook']]);
    assert.match(lines[2]!, /writes \S+haproxy\.cfg, reloads with "true", switches live through \/run\/haproxy\/admin\.sock$/);
    assert.match(lines[3]!, /writes \S+nginx\.conf, validates with "nginx -t -q -c \{file\}", reloads with "nginx -s reload"$/);
    assert.match(lines[4]!, /writes \S+masters\.env$/);
    assert.match(lines[5]!, /2 command\(s\)$/);
    assert.deepEqual(lines.slice(7), ['warning: unknown key Clusters[0].Typo ignored', 'warning: unknown key Extra ignored', 'warning: unknown key Templates[0].Oops ignored']);
    assert.match(checkConfigReport('c.json', 'consul', load('consul')), /^ {2}consul +consul +catalog mode, 10\.0\.0\.1:8500$/m);
  });

  it('says when nothing but the API would run', () => {
    const loaded = parseConfigText(JSON.stringify({ Clusters: [{ Name: 'a', ExternalPort: 1 }], Sentinels: [{ Host: 'h', Port: 1 }] }), 'c.json', {}, 'auto');
    assert.equal(checkConfigReport('c.json', 'auto', loaded), 'c.json: configuration OK (1 cluster(s), 1 sentinel(s), 0 output(s), 0 warning(s))\noutputs run by redishappy: none (only the API)\n');
  });
});
