import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, parseConfigText } from '../../src/config/load.js';
import { configurationForApi } from '../../src/config/redacted.js';
import { parsePairs } from '../../src/config/env.js';

const fixtures = new URL('../fixtures/configs/', import.meta.url);
const dir = mkdtempSync(join(tmpdir(), 'rh-config-'));
const template = join(dir, 'haproxy_template.cfg');
writeFileSync(template, '{{range .Clusters}}{{.Name}}{{end}}\n');

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

describe('config loader', () => {
  it('loads the original redis-haproxy example unchanged (template path made absolute for the test)', () => {
    const text = readFileSync(new URL('original-haproxy.json', fixtures), 'utf8').replace('"haproxy_template.cfg"', JSON.stringify(template));
    const { config } = parseConfigText(text, 'x.json', {}, 'haproxy');
    assert.deepEqual(config.Clusters, [{ Name: 'testing', ExternalPort: 6379 }]);
    assert.deepEqual(config.Sentinels, [{ Host: '192.168.0.20', Port: 26379 }]);
    assert.equal(config.HAProxy?.OutputPath, '/etc/haproxy/haproxy.cfg');
    assert.equal(config.SentinelTCPKeepAlive, 0);
  });

  it('loads the original consul example (tabs, lowercase "tags", a service for an unconfigured cluster) with a warning', () => {
    const loaded = loadConfigFile(new URL('original-consul.json', fixtures).pathname, {}, 'consul');
    assert.equal(loaded.config.Consul?.Address, '127.0.0.1:8500');
    assert.deepEqual(loaded.config.Consul?.Services?.[0]?.Tags, ['redis', 'master', 'anothertag']);
    assert.ok(loaded.warnings.some((w) => w.includes('other')), loaded.warnings.join('\n'));
  });

  it('loads the original noop example with the umbrella flavour', () => {
    const loaded = loadConfigFile(new URL('original-noop.json', fixtures).pathname, {}, 'auto');
    assert.equal(loaded.config.HAProxy, undefined);
    assert.equal(loaded.config.Consul, undefined);
  });

  it('matches keys case-insensitively and warns about unknown keys', () => {
    const loaded = parseConfigText('{"clusters":[{"name":"a","EXTERNALPORT":1}],"SENTINELS":[{"host":"::1","port":26379}],"Bogus":1}', 's', {}, 'auto');
    assert.equal(loaded.config.Clusters[0]?.ExternalPort, 1);
    assert.equal(loaded.config.Sentinels[0]?.Host, '::1');
    assert.deepEqual(loaded.warnings, ['unknown key Bogus ignored']);
  });

  it('an unknown key close to a known one names it (a likely misspelling), at any depth', () => {
    const text = JSON.stringify({
      Clusters: [{ Name: 'a', ExternalPort: 1 }],
      Sentinels: [{ Hots: '::1', Host: '::1', Port: 26379 }],
      Watcher: { PollIntervalMS: 500, PollIntervallMs: 1000 },
      Templates: [{ Name: 'f', TemplatePath: fileURLToPath(new URL('../../examples/file/masters.json.tmpl', import.meta.url)), OutputPath: '/tmp/rh-x.json', ValidateComand: 'true' }],
      Zzz: 1,
    });
    assert.deepEqual(parseConfigText(text, 's', {}, 'auto').warnings, [
      'unknown key Sentinels[0].Hots ignored (did you mean Host?)',
      'unknown key Watcher.PollIntervallMs ignored (did you mean PollIntervalMs?)',
      'unknown key Templates[0].ValidateComand ignored (did you mean ValidateCommand?)',
      'unknown key Zzz ignored',
    ]);
  });

  it('lists every problem with the field named, in one error', () => {
    const problems = problemsOf(() =>
      parseConfigText('{"Clusters":[{"Name":"","ExternalPort":0},{"Name":"b","ExternalPort":"6379"}],"Sentinels":[{"Host":"h","Port":70000}]}', 's', {}, 'haproxy'),
    );
    assert.ok(problems.includes('Clusters[0].Name: must not be empty'), problems.join('\n'));
    assert.ok(problems.includes('Clusters[0].ExternalPort: must be 1-65535'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('Clusters[1].ExternalPort: must be a number')), problems.join('\n'));
    assert.ok(problems.includes('Sentinels[0].Port: must be 1-65535'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('HAProxy:')), problems.join('\n'));
  });

  it('requires clusters and sentinels', () => {
    const problems = problemsOf(() => parseConfigText('{"Clusters":[]}', 's', {}, 'auto'));
    assert.ok(problems.includes('Clusters: needs at least one cluster'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('Sentinels: is required')), problems.join('\n'));
  });

  it('rejects duplicate cluster names and sentinels', () => {
    const problems = problemsOf(() =>
      parseConfigText('{"Clusters":[{"Name":"a","ExternalPort":1},{"Name":"a","ExternalPort":2}],"Sentinels":[{"Host":"h","Port":1},{"Host":"h","Port":1}]}', 's', {}, 'auto'),
    );
    assert.ok(problems.some((p) => p.startsWith('Clusters[1].Name: duplicate cluster name "a"')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('Sentinels[1]: duplicate sentinel h:1')), problems.join('\n'));
  });

  it('reports invalid JSON with line and column, and a missing file plainly', () => {
    const problems = problemsOf(() => parseConfigText('{\n  "Clusters": [,]\n}', 's', {}, 'auto'));
    assert.match(problems[0]!, /invalid JSON: .*line 2, column \d+/);
    assert.deepEqual(problemsOf(() => loadConfigFile(join(dir, 'missing.json'), {}, 'auto')), ['cannot open config file: file not found']);
  });

  it('applies REDISHAPPY_* overrides (non-empty only) before validation', () => {
    const env = {
      REDISHAPPY_CLUSTERS: 'abc:1234;def:1235',
      REDISHAPPY_SENTINELS: '172.17.42.1:26377;[::1]:26378',
      REDISHAPPY_HAPROXY_TEMPLATE_PATH: template,
      REDISHAPPY_HAPROXY_OUTPUT_PATH: '/tmp/out.cfg',
      REDISHAPPY_HAPROXY_RELOAD_CMD: 'true',
    };
    const { config, notes } = parseConfigText('{"Clusters":[{"Name":"x","ExternalPort":1}],"Sentinels":[{"Host":"h","Port":1}]}', 's', env, 'haproxy');
    assert.deepEqual(config.Clusters.map((c) => [c.Name, c.ExternalPort]), [['abc', 1234], ['def', 1235]]);
    assert.deepEqual(config.Sentinels, [{ Host: '172.17.42.1', Port: 26377 }, { Host: '::1', Port: 26378 }]);
    assert.equal(config.HAProxy?.ReloadCommand, 'true');
    assert.ok(notes.some((n) => n.includes('REDISHAPPY_CLUSTERS')));
    const untouched = parseConfigText('{"Clusters":[{"Name":"x","ExternalPort":1}],"Sentinels":[{"Host":"h","Port":1}]}', 's', { REDISHAPPY_CLUSTERS: '' }, 'auto');
    assert.equal(untouched.config.Clusters[0]?.Name, 'x');
  });

  it('names the variable and entry of a malformed override', () => {
    const problems = problemsOf(() => parseConfigText('{"Clusters":[{"Name":"x","ExternalPort":1}],"Sentinels":[{"Host":"h","Port":1}]}', 's', { REDISHAPPY_SENTINELS: '127.0.0.1;h:0;' }, 'auto'));
    assert.deepEqual(problems, [
      'REDISHAPPY_SENTINELS: entry 1 "127.0.0.1" is not host:port (write IPv6 as [::1]:26379)',
      'REDISHAPPY_SENTINELS: entry 2 "h:0" has port 0: must be 1-65535',
      'REDISHAPPY_SENTINELS: entry 3 "" is not host:port (write IPv6 as [::1]:26379)',
      'Sentinels: needs at least one sentinel',
    ]);
    assert.deepEqual(parsePairs('X', '::1:5', 'host').problems, ['X: entry 1 "::1:5" is not host:port (write IPv6 as [::1]:26379)']);
  });

  it('names a missing template file', () => {
    const problems = problemsOf(() =>
      parseConfigText(JSON.stringify({ Clusters: [{ Name: 'a', ExternalPort: 1 }], Sentinels: [{ Host: 'h', Port: 1 }], HAProxy: { TemplatePath: '/nope/t.cfg', OutputPath: '/tmp/x', ReloadCommand: 'true' } }), 's', {}, 'haproxy'),
    );
    assert.deepEqual(problems, ['HAProxy.TemplatePath: template file /nope/t.cfg does not exist']);
  });

  it('serves the configuration with the original output names and secrets redacted', () => {
    const { config } = parseConfigText(
      JSON.stringify({ Clusters: [{ Name: 'a', ExternalPort: 1, Password: 'p1' }], Sentinels: [{ Host: 'h', Port: 1, Password: 'p2' }], SentinelPassword: 'p3', HAProxy: { TemplatePath: template, OutputPath: '/tmp/x', ReloadCommand: 'curl http://admin:hunter2@127.0.0.1/reload' } }),
      's',
      {},
      'haproxy',
    );
    const out = configurationForApi(config) as Record<string, unknown>;
    const text = JSON.stringify(out);
    for (const secret of ['p1', 'p2', 'p3', 'hunter2']) assert.ok(!text.includes(`"${secret}"`) && !text.includes(`:${secret}@`), `${secret} leaked: ${text}`);
    assert.deepEqual((out.clusters as unknown[])[0], { name: 'a', externalPort: 1, password: '<redacted>' });
    assert.deepEqual((out.sentinels as unknown[])[0], { host: 'h', port: 1, password: '<redacted>' });
    assert.equal(out.SentinelTCPKeepAlive, 0);
    assert.equal((out.HAProxy as Record<string, unknown>).templatePath, template);
    assert.deepEqual(out.consul, { address: '', services: null });
  });
});

describe('config loader: template', () => {
  it('a template that does not parse is a configuration error naming file, line and column', () => {
    const bad = join(dir, 'bad.cfg');
    writeFileSync(bad, 'global\n{{range .Clusters}}\n{{ .Name }\n');
    const problems = problemsOf(() =>
      parseConfigText(JSON.stringify({ Clusters: [{ Name: 'a', ExternalPort: 1 }], Sentinels: [{ Host: 'h', Port: 1 }], HAProxy: { TemplatePath: bad, OutputPath: '/tmp/x', ReloadCommand: 'true' } }), 's', {}, 'haproxy'),
    );
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, new RegExp(`^HAProxy\\.TemplatePath: template does not parse: ${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:\\d+: `));
  });
});
