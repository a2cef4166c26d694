import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import pino from 'pino';
import { ConfigError, parseConfigText } from '../../src/config/load.js';
import { TemplateFileOutput } from '../../src/outputs/file/file-output.js';
import { templateOutputSchema } from '../../src/outputs/template/config.js';
import { ValidationCache } from '../../src/outputs/file/validation-cache.js';
import { TopologyStore } from '../../src/topology/store.js';
import type { MasterChange, TopologySnapshot } from '../../src/topology/types.js';

const dir = mkdtempSync(join(tmpdir(), 'rh-template-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const logger = pino({ level: 'silent' });

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, 'x.json', {}, 'auto');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems;
  }
  assert.fail('expected a ConfigError');
}

const tmpl = join(dir, 't.tmpl');
writeFileSync(tmpl, '{{range .Clusters}}{{.Name}} {{.Ip}}:{{.Port}}\n{{end}}');
const base = { Clusters: [{ Name: 'a', ExternalPort: 7000 }], Sentinels: [{ Host: '127.0.0.1', Port: 26379 }] };

describe('Templates section', () => {
  it('names the bad field, accepts any key case, and fills defaults', () => {
    const problems = problemsOf(JSON.stringify({ ...base, Templates: [{ Name: 'ok', TemplatePath: tmpl, OutputPath: join(dir, 'o1') }, { name: 'b', templatepath: tmpl }] }));
    assert.deepEqual(problems, ['Templates[1].OutputPath: is required']);
    const { config } = parseConfigText(JSON.stringify({ ...base, TEMPLATES: [{ NAME: 'nginx', templatePath: tmpl, outputpath: join(dir, 'o1') }] }), 'x.json', {}, 'auto');
    assert.deepEqual(config.Templates?.[0], { Name: 'nginx', TemplatePath: tmpl, OutputPath: join(dir, 'o1'), ValidateCommand: '', ReloadCommand: '', ValidateTimeoutMs: 10000, ReloadTimeoutMs: 10000, ReloadSettleMs: 0, ValidateCache: true, Prevalidate: true, ReadSlots: 8, VerifyIntervalMs: 10000, VerifyRetries: 3 });
  });

  it('refuses duplicate names (any case), reserved names, a shared OutputPath and a missing template', () => {
    const problems = problemsOf(JSON.stringify({
      ...base,
      HAProxy: { TemplatePath: tmpl, OutputPath: join(dir, 'hp'), ReloadCommand: 'true' },
      Templates: [
        { Name: 'Nginx', TemplatePath: tmpl, OutputPath: join(dir, 'o1') },
        { Name: 'nginx', TemplatePath: tmpl, OutputPath: join(dir, 'o1') },
        { Name: 'x', TemplatePath: join(dir, 'missing'), OutputPath: join(dir, 'hp') },
      ],
    }));
    assert.ok(problems.includes('Templates[1].Name: "nginx" is already used by Templates[0] (names are compared without case)'), problems.join('\n'));
    assert.ok(problems.includes('Templates[1].OutputPath: ' + join(dir, 'o1') + ' is also written by Templates[0]'), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('Templates[2].TemplatePath: template file')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('Templates[2].OutputPath:') && p.includes('HAProxy.OutputPath')), problems.join('\n'));
    const reserved = problemsOf(JSON.stringify({ ...base, Templates: [{ Name: 'HAProxy', TemplatePath: tmpl, OutputPath: join(dir, 'o3') }] }));
    assert.ok(reserved.some((p) => p.startsWith('Templates[0].Name: must not be one of')), reserved.join('\n'));
  });

  it('reports every problem at once: an entry refused by the schema does not hide the checks of the others', () => {
    const problems = problemsOf(JSON.stringify({
      ...base,
      Templates: [
        { Name: 'a', TemplatePath: join(dir, 'missing.tmpl'), OutputPath: join(dir, 'r-a') },
        { Name: 'b', TemplatePath: tmpl, ValidateTimeoutMs: 'soon' },
        { Name: 'A', TemplatePath: tmpl, OutputPath: join(dir, 'r-c') },
        { Name: 'd', TemplatePath: tmpl, OutputPath: join(dir, 'r-a') },
      ],
    }));
    assert.deepEqual(problems.sort(), [
      `Templates[0].TemplatePath: template file ${join(dir, 'missing.tmpl')} does not exist`,
      'Templates[1].OutputPath: is required',
      'Templates[1].ValidateTimeoutMs: must be a number of milliseconds',
      'Templates[2].Name: "A" is already used by Templates[0] (names are compared without case)',
      `Templates[3].OutputPath: ${join(dir, 'r-a')} is also written by Templates[0]`,
    ].sort(), problems.join('\n'));
    assert.deepEqual(problemsOf(JSON.stringify({ ...base, Templates: { Name: 'a' } })), ['Templates: must be a list of template outputs']);
  });

  it('compares OutputPaths as resolved paths and refuses an OutputPath that is any TemplatePath', () => {
    const own = join(dir, 'own.tmpl');
    const other = join(dir, 'other.tmpl');
    const hpTmpl = join(dir, 'hp.tmpl');
    for (const f of [own, other, hpTmpl]) writeFileSync(f, '{{range .Clusters}}{{.Name}}\n{{end}}');
    const rel = relative(process.cwd(), join(dir, 'same-out'));
    const problems = problemsOf(JSON.stringify({
      ...base,
      HAProxy: { TemplatePath: hpTmpl, OutputPath: other, ReloadCommand: 'true' },
      Templates: [
        { Name: 'a', TemplatePath: tmpl, OutputPath: `./${rel}` },
        { Name: 'b', TemplatePath: tmpl, OutputPath: `${dir}/./x/../same-out` },
        { Name: 'c', TemplatePath: own, OutputPath: own },
        { Name: 'd', TemplatePath: other, OutputPath: join(dir, 'd-out') },
        { Name: 'e', TemplatePath: tmpl, OutputPath: `${dir}/x/../other.tmpl` },
        { Name: 'f', TemplatePath: tmpl, OutputPath: hpTmpl },
      ],
    }));
    assert.deepEqual(problems.sort(), [
      `HAProxy.OutputPath: ${other} is Templates[3].TemplatePath (writing it would overwrite that template)`,
      `Templates[1].OutputPath: ${dir}/./x/../same-out is also written by Templates[0]`,
      `Templates[2].OutputPath: ${own} is its own TemplatePath (writing it would overwrite the template)`,
      `Templates[4].OutputPath: ${dir}/x/../other.tmpl is Templates[3].TemplatePath (writing it would overwrite that template)`,
      `Templates[4].OutputPath: ${dir}/x/../other.tmpl is also written by HAProxy.OutputPath`,
      `Templates[5].OutputPath: ${hpTmpl} is HAProxy.TemplatePath (writing it would overwrite that template)`,
    ].sort(), problems.join('\n'));
    const selfHp = problemsOf(JSON.stringify({ ...base, HAProxy: { TemplatePath: hpTmpl, OutputPath: `${hpTmpl}/.`, ReloadCommand: 'true' } }));
    assert.deepEqual(selfHp, [`HAProxy.OutputPath: ${hpTmpl}/. is HAProxy.TemplatePath (writing it would overwrite the template)`]);
  });
});

function snapshot(version: number, port: number, replicas: Array<{ ip: string; port: number }> = []): TopologySnapshot {
  return { version, clusters: [{ name: 'a', externalPort: 7000, master: { ip: '127.0.0.1', port }, configEpoch: version, confirmedAt: '2026-01-01T00:00:00.000Z', agreeingSentinels: [], replicas }] };
}
const change = (from: number, to: number): MasterChange => ({ cluster: 'a', previous: { ip: '127.0.0.1', port: from }, current: { ip: '127.0.0.1', port: to }, configEpoch: 2, confirmedAt: '', announcedAt: null });

function makeOutput(sub: string, extra: { validate?: string; reload?: string; prevalidate?: boolean; template?: string; clusterNames?: string[] } = {}) {
  const d = join(dir, sub);
  rmSync(d, { recursive: true, force: true });
  spawnSync('mkdir', ['-p', d]);
  const validateLog = join(d, 'validations.log');
  const templatePath = join(d, 't.tmpl');
  writeFileSync(templatePath, extra.template ?? '{{range .Clusters}}{{.Name}} {{.Ip}}:{{.Port}}{{range .Replicas}} ro={{.Ip}}:{{.Port}}{{end}}\n{{end}}');
  const out = new TemplateFileOutput({
    name: sub,
    label: `template output ${sub}`,
    section: 'Templates[0]',
    logger,
    clusterNames: extra.clusterNames ?? ['a'],
    config: {
      TemplatePath: templatePath,
      OutputPath: join(d, 'out.txt'),
      // Counts validations; refuses any file naming port 6666.
      ValidateCommand: extra.validate ?? `echo x >> ${validateLog}; ! grep -q :6666 {file}`,
      ReloadCommand: extra.reload ?? '',
      ValidateTimeoutMs: 5000,
      ReloadTimeoutMs: 5000,
      Prevalidate: extra.prevalidate ?? false,
    },
  });
  const validations = () => (existsSync(validateLog) ? readFileSync(validateLog, 'utf8').split('\n').filter(Boolean).length : 0);
  return { out, d, outputPath: join(d, 'out.txt'), validations };
}

describe('template file output', () => {
  it('writes without a reload command, validates each new content once, and refuses what fails validation', async () => {
    const { out, outputPath, validations } = makeOutput('plain');
    await out.init();
    await out.apply(snapshot(1, 6379), []);
    assert.equal(readFileSync(outputPath, 'utf8'), 'a 127.0.0.1:6379\n');
    assert.equal(validations(), 1);
    await out.apply(snapshot(2, 6380), [change(6379, 6380)]);
    assert.equal(validations(), 2);
    // Back to bytes already validated: no validate command run, and the cache hit is counted.
    await out.apply(snapshot(3, 6379), [change(6380, 6379)]);
    assert.equal(readFileSync(outputPath, 'utf8'), 'a 127.0.0.1:6379\n');
    assert.equal(validations(), 2, 'the same bytes were not validated again');
    assert.equal(out.status().details?.validationCacheHits, 1);
    await assert.rejects(out.apply(snapshot(4, 6666), [change(6379, 6666)]), /rejected the new configuration/);
    assert.equal(readFileSync(outputPath, 'utf8'), 'a 127.0.0.1:6379\n', 'refused file not installed');
    // A refusal is not remembered: the next try runs the command again.
    await assert.rejects(out.apply(snapshot(4, 6666), []));
    assert.equal(validations(), 4);
  });

  it('a template edit is a different cache scope: the same bytes from a new template are validated again', async () => {
    const { out, d, validations } = makeOutput('scope');
    await out.init();
    await out.apply(snapshot(1, 6379), []);
    writeFileSync(join(d, 't.tmpl'), '{{range .Clusters}}{{.Name}} {{.Ip}}:{{.Port}}\n{{end}}{{/* edited */}}');
    await out.apply(snapshot(2, 6380), [change(6379, 6380)]);
    await out.apply(snapshot(3, 6379), [change(6380, 6379)]);
    assert.equal(validations(), 3, 'bytes validated under the old template are validated again under the new one');
  });

  it('pre-validates the file for each known replica while idle, so the failover finds it validated', async () => {
    const { out, outputPath, validations } = makeOutput('pre', { prevalidate: true, template: '{{range .Clusters}}{{.Name}} {{.Ip}}:{{.Port}}\n{{end}}' });
    await out.init();
    await out.apply(snapshot(1, 6379, [{ ip: '127.0.0.1', port: 6380 }, { ip: '127.0.0.1', port: 6666 }]), []);
    await out.prevalidationIdle();
    assert.equal(validations(), 3, 'the applied file plus one per replica');
    assert.equal(out.status().details?.prevalidations, 2);
    await out.apply(snapshot(2, 6380, [{ ip: '127.0.0.1', port: 6379 }]), [change(6379, 6380)]);
    assert.equal(readFileSync(outputPath, 'utf8'), 'a 127.0.0.1:6380\n');
    assert.equal(out.status().details?.validationCacheHits, 1, 'the failover used the pre-validated file');
    // The replica whose file failed pre-validation is still refused when it becomes master.
    await out.prevalidationIdle();
    await assert.rejects(out.apply(snapshot(3, 6666), [change(6380, 6666)]), /rejected/);
    assert.equal(readFileSync(outputPath, 'utf8'), 'a 127.0.0.1:6380\n');
  });

  it('writes the pre-validated files ahead: a failover renames one into place; stale, tampered and closed ones go', async () => {
    const { out, d, outputPath, validations } = makeOutput('staged', { prevalidate: true, template: '{{range .Clusters}}{{.Name}} {{.Ip}}:{{.Port}}\n{{end}}' });
    const staged = () => readdirSync(d).filter((n) => /^\.out\.txt\.redishappy-\d+-\d+\.next$/.test(n)).sort();
    await out.init();
    await out.apply(snapshot(1, 6379, [{ ip: '127.0.0.1', port: 6380 }, { ip: '127.0.0.1', port: 6381 }, { ip: '127.0.0.1', port: 6666 }]), []);
    await out.prevalidationIdle();
    // Two replicas pass validation and are written ahead; the one refused (6666) is not.
    assert.deepEqual(staged().map((n) => readFileSync(join(d, n), 'utf8')).sort(), ['a 127.0.0.1:6380\n', 'a 127.0.0.1:6381\n']);
    const before = validations();
    await out.apply(snapshot(2, 6380, [{ ip: '127.0.0.1', port: 6379 }]), [change(6379, 6380)]);
    assert.equal(readFileSync(outputPath, 'utf8'), 'a 127.0.0.1:6380\n');
    assert.equal(out.status().details?.stagedUsed, 1, 'the failover renamed the staged file into place');
    assert.equal(validations(), before, 'and ran no validation');
    await out.prevalidationIdle();
    // Now only the new replica's file (6379) is likely: 6381's is gone, 6379's was written.
    assert.deepEqual(staged().map((n) => readFileSync(join(d, n), 'utf8')), ['a 127.0.0.1:6379\n']);
    // A staged file changed behind our back is not used: the right bytes are written instead.
    writeFileSync(join(d, staged()[0]!), 'a 127.0.0.1:6666\n');
    await out.apply(snapshot(3, 6379), [change(6380, 6379)]);
    assert.equal(readFileSync(outputPath, 'utf8'), 'a 127.0.0.1:6379\n');
    assert.equal(out.status().details?.stagedUsed, 1, 'the tampered file was not used');
    await out.apply(snapshot(4, 6380, [{ ip: '127.0.0.1', port: 6379 }]), [change(6379, 6380)]);
    await out.prevalidationIdle();
    assert.equal(staged().length, 1);
    await out.close();
    assert.deepEqual(staged(), [], 'close removes the staged files');
    assert.deepEqual(readdirSync(d).filter((n) => n.endsWith('.tmp')), [], 'no candidate left either');
  });

  it('without a ReloadCommand, a pending-reload marker left by an earlier run is removed once the file is written', async () => {
    const { out, d, outputPath } = makeOutput('marker', { validate: '' });
    const marker = join(d, '.out.txt.redishappy-reload-pending');
    writeFileSync(marker, '2026-01-01T00:00:00.000Z\n');
    await out.init();
    assert.equal(out.status().details?.reloadOwed, true, 'the marker was seen');
    await out.apply(snapshot(1, 6379), []);
    assert.equal(readFileSync(outputPath, 'utf8'), 'a 127.0.0.1:6379\n');
    assert.equal(out.status().details?.reloadOwed, false);
    assert.equal(existsSync(marker), false, 'stale marker removed');
  });

  it('removes candidates left by a dead process at init, and keeps those of live ones', async () => {
    const { out, d } = makeOutput('stale');
    const dead = spawnSync('true').pid!;
    const staleName = `.out.txt.redishappy-${dead}-3.tmp`;
    const liveName = `.out.txt.redishappy-${process.pid}-999.tmp`;
    writeFileSync(join(d, staleName), 'half');
    writeFileSync(join(d, liveName), 'mine');
    writeFileSync(join(d, '.other.redishappy-1-1.tmp'), 'not ours');
    assert.ok(existsSync(join(d, staleName)), 'the stale candidate exists before init');
    await out.init();
    const left = readdirSync(d);
    assert.ok(!left.includes(staleName), left.join(','));
    assert.ok(left.includes(liveName));
    assert.ok(left.includes('.other.redishappy-1-1.tmp'));
  });
});

describe('topology replicas and the validation cache', () => {
  it('setReplicas emits only on a change of the set, without bumping the version', () => {
    const store = new TopologyStore([{ name: 'a', externalPort: 1 }]);
    const seen: string[] = [];
    store.on('replicas', (c) => seen.push(c));
    const v = store.snapshot().version;
    assert.equal(store.setReplicas('a', [{ ip: '10.0.0.2', port: 6379 }, { ip: '10.0.0.3', port: 6379 }]), true);
    assert.equal(store.setReplicas('a', [{ ip: '10.0.0.3', port: 6379 }, { ip: '10.0.0.2', port: 6379 }]), false);
    assert.deepEqual(seen, ['a']);
    assert.equal(store.snapshot().version, v);
    assert.equal(store.snapshot().clusters[0]!.replicas!.length, 2);
  });

  it('keys on command, template and bytes', async () => {
    const c = new ValidationCache();
    c.add('cmd', 'tpl', 'text');
    assert.equal(await c.passed('cmd', 'tpl', 'text'), true);
    assert.equal(await c.passed('cmd2', 'tpl', 'text'), false);
    assert.equal(await c.passed('cmd', 'tpl2', 'text'), false);
    assert.equal(await c.passed('cmd', 'tpl', 'text '), false);
    assert.equal(await c.passed('cm', 'dtpl', 'text'), false);
  });

  it('the schema rejects a bad Name', () => {
    const r = templateOutputSchema.safeParse({ Name: 'has space', TemplatePath: 't', OutputPath: 'o' });
    assert.ok(!r.success);
  });
});

describe('shipped examples', () => {
  const examples = new URL('../../examples/', import.meta.url).pathname;
  it('examples/nginx/config.json loads (template paths pointed at the shipped files)', () => {
    const text = readFileSync(join(examples, 'nginx/config.json'), 'utf8')
      .replace('/etc/redishappy/nginx_stream_template.conf', join(examples, 'nginx/nginx_stream_template.conf'))
      .replace('/etc/redishappy/masters.json.tmpl', join(examples, 'file/masters.json.tmpl'))
      .replace('/etc/redishappy/masters.env.tmpl', join(examples, 'file/masters.env.tmpl'));
    const { config } = parseConfigText(text, 'config.json', {}, 'auto');
    assert.deepEqual(config.Templates?.map((t) => t.Name), ['nginx', 'masters-json', 'masters-env']);
  });

  it('the JSON and env templates render parseable files with replicas, epochs and unconfirmed clusters', async () => {
    for (const [name, file] of [['json', 'masters.json.tmpl'], ['env', 'masters.env.tmpl']] as const) {
      const { out, outputPath } = makeOutput(`example-${name}`, { validate: '', template: readFileSync(join(examples, 'file', file), 'utf8'), clusterNames: ['b', 'a', 'c'] });
      await out.init();
      // Given out of order: the files list clusters sorted by name. c has no confirmed master.
      const snap: TopologySnapshot = {
        version: 7,
        clusters: [
          { name: 'c', externalPort: 7002, master: null, configEpoch: null, confirmedAt: null, agreeingSentinels: [], replicas: [{ ip: '10.0.2.2', port: 6379 }] },
          { name: 'b', externalPort: 7001, master: { ip: '10.0.1.1', port: 6380 }, configEpoch: 5, confirmedAt: '2026-01-02T00:00:00.000Z', agreeingSentinels: [], replicas: [] },
          { name: 'a', externalPort: 7000, master: { ip: '10.0.0.1', port: 6379 }, configEpoch: 3, confirmedAt: '2026-01-01T00:00:00.000Z', agreeingSentinels: [], replicas: [{ ip: '10.0.0.3', port: 6379 }, { ip: '10.0.0.2', port: 6379 }] },
        ],
      };
      await out.apply(snap, []);
      const text = readFileSync(outputPath, 'utf8');
      if (name === 'json') {
        // JSON.parse fails on a missing or trailing comma between clusters or replicas.
        const parsed = JSON.parse(text) as { version: number; epoch: number; clusters: Array<Record<string, unknown>> };
        assert.equal(parsed.version, 7);
        assert.equal(parsed.epoch, 5, 'the highest config epoch');
        assert.deepEqual(parsed.clusters, [
          { name: 'a', confirmed: true, ip: '10.0.0.1', port: 6379, externalPort: 7000, configEpoch: 3, confirmedAt: '2026-01-01T00:00:00.000Z', replicas: [{ ip: '10.0.0.2', port: 6379 }, { ip: '10.0.0.3', port: 6379 }] },
          { name: 'b', confirmed: true, ip: '10.0.1.1', port: 6380, externalPort: 7001, configEpoch: 5, confirmedAt: '2026-01-02T00:00:00.000Z', replicas: [] },
          { name: 'c', confirmed: false, ip: '', port: 0, externalPort: 7002, configEpoch: 0, confirmedAt: '', replicas: [{ ip: '10.0.2.2', port: 6379 }] },
        ]);
      } else {
        // Only confirmed clusters (.Clusters): c has no lines.
        assert.deepEqual(text.split('\n').filter((l) => l && !l.startsWith('#')), [
          'REDISHAPPY_VERSION=7',
          'REDIS_a_HOST=10.0.0.1',
          'REDIS_a_PORT=6379',
          'REDIS_b_HOST=10.0.1.1',
          'REDIS_b_PORT=6380',
        ]);
      }
    }
  });
});
