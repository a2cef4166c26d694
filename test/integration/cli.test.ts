import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { startCluster, useCleanup, waitFor } from '../harness/index.js';
import { FAST_WATCHER } from '../support/watch.js';
import { ANY_PORT, BIN_DIR, runBin, runProcess, waitListening } from '../support/daemon-process.js';
import { needTool } from '../support/tools.js';

const dir = mkdtempSync(join(tmpdir(), 'rh-cli-'));

describe('command line (real process)', () => {
  const cleanup = useCleanup();

  it('--help explains flags, environment and examples', async () => {
    const d = runBin(cleanup, 'redishappy-haproxy', ['--help']);
    assert.equal(await d.exited, 0);
    for (const s of ['-config', 'REDISHAPPY_SENTINELS', 'Examples:', 'SIGHUP', 'confirmed']) assert.ok(d.stdout().includes(s), s);
  });

  it('--version prints the package version', async () => {
    const d = runBin(cleanup, 'redishappy', ['-version']);
    assert.equal(await d.exited, 0);
    assert.match(d.stdout(), /^\d+\.\d+\.\d+/);
  });

  it('a missing or invalid config exits 2 with every problem named and no stack trace', async () => {
    const missing = runBin(cleanup, 'redishappy-haproxy', ['-config', join(dir, 'nope.json')]);
    assert.equal(await missing.exited, 2);
    assert.match(missing.stderr(), /nope\.json: configuration is invalid:\n {2}- cannot open config file: file not found/);

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ Clusters: [{ Name: '', ExternalPort: 0 }], Sentinels: [{ Host: 'h', Port: 1 }] }));
    const d = runBin(cleanup, 'redishappy-haproxy', [`-config=${bad}`], { REDISHAPPY_SENTINELS: 'h:1;oops' });
    assert.equal(await d.exited, 2);
    const err = d.stderr();
    for (const s of ['Clusters[0].Name: must not be empty', 'Clusters[0].ExternalPort: must be 1-65535', 'REDISHAPPY_SENTINELS: entry 2 "oops"', 'HAProxy: section is required'])
      assert.ok(err.includes(s), `${s} missing from:\n${err}`);
    assert.doesNotMatch(err, /\n\s+at /, 'no stack trace');
  });

  it('--check-config accepts a valid file, lists the outputs it would run and shows unknown keys', async () => {
    const ok = join(dir, 'ok.json');
    const template = join(dir, 'file.tmpl');
    writeFileSync(template, '{{range .Clusters}}{{.Name}} {{.Ip}}:{{.Port}}\n{{end}}');
    writeFileSync(ok, JSON.stringify({ Clusters: [{ Name: 'a', ExternalPort: 1 }], Sentinels: [{ Host: 'h', Port: 1 }], Templates: [{ Name: 'masters', TemplatePath: template, OutputPath: join(dir, 'masters.txt'), RelaodCommand: 'x' }] }));
    const d = runBin(cleanup, 'redishappy', ['--check-config', '--config', ok]);
    assert.equal(await d.exited, 0);
    const out = d.stdout();
    assert.match(out, /configuration OK \(1 cluster\(s\), 1 sentinel\(s\), 1 output\(s\), 1 warning\(s\)\)/);
    assert.match(out, /^outputs run by redishappy:\n {2}masters +template +writes \S+masters\.txt$/m);
    assert.match(out, /^warning: unknown key Templates\[0\]\.RelaodCommand ignored \(did you mean ReloadCommand\?\)$/m);
  });

  it('an invalid file also shows the warnings: the unknown key behind a missing one', async () => {
    const typo = join(dir, 'typo.json');
    writeFileSync(typo, JSON.stringify({ Clusters: [{ Name: 'a', ExternalPot: 6379 }], Sentinels: [{ Host: 'h', Port: 1 }] }));
    const d = runBin(cleanup, 'redishappy', ['--check-config', '--config', typo]);
    assert.equal(await d.exited, 2);
    assert.match(d.stderr(), /configuration is invalid:\n {2}- Clusters\[0\]\.ExternalPort: is required\nwarning: unknown key Clusters\[0\]\.ExternalPot ignored \(did you mean ExternalPort\?\)\n/);
  });

  it('--log-format: readable lines on a terminal (script(1)), JSON on a pipe; pretty and json force their format', { skip: needTool('script', 'bsdutils') }, async () => {
    // A taken API port makes the daemon log its start, then a fatal line, and exit 1 by itself.
    const taken = net.createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    cleanup.add(() => taken.close());
    const cfg = join(dir, 'log-format.json');
    writeFileSync(cfg, JSON.stringify({ Clusters: [{ Name: 'alpha', ExternalPort: 7001 }], Sentinels: [{ Host: '127.0.0.1', Port: 1 }], Syslog: { Enabled: false } }));
    const args = ['-config', cfg, '-bind', `127.0.0.1:${(taken.address() as net.AddressInfo).port}`, '--log-level', 'info'];
    const readable = /^\d\d:\d\d:\d\d\.\d{3} INFO {2}starting redishappy config=\S+ flavour=auto version=[\d.]+$/m;
    const fatal = /^\d\d:\d\d:\d\d\.\d{3} FATAL cannot start err="cannot listen on .*address already in use"$/m;

    const piped = runBin(cleanup, 'redishappy', args);
    assert.equal(await piped.exited, 1, piped.stderr());
    assert.ok(piped.stdout().trim().split('\n').every((l) => l.startsWith('{')), `JSON on a pipe by default: ${piped.stdout()}`);
    assert.ok(piped.logs().some((l) => l.msg === 'starting redishappy'));

    const forced = runBin(cleanup, 'redishappy', [...args, '--log-format', 'pretty']);
    assert.equal(await forced.exited, 1, forced.stderr());
    assert.match(forced.stdout(), readable);
    assert.match(forced.stdout(), fatal);
    assert.ok(!forced.stdout().includes('{"') && !forced.stdout().includes('\u001b['), `readable, no colour on a pipe: ${forced.stdout()}`);

    // script(1) gives the daemon a terminal as stdout: readable and coloured without any flag.
    const quote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;
    const underTty = (extra: string[]) => runProcess(cleanup, 'script', ['-qec', [process.execPath, `${BIN_DIR}redishappy.js`, ...args, ...extra].map(quote).join(' '), '/dev/null'], { REDISHAPPY_FROM_SOURCE: '1', NO_COLOR: '' });
    const tty = underTty([]);
    assert.equal(await tty.exited, 1, tty.stdout());
    const ttyText = tty.stdout().replace(/\r/g, '');
    // eslint-disable-next-line no-control-regex
    assert.match(ttyText, /\u001b\[32mINFO /, 'coloured on a terminal');
    // eslint-disable-next-line no-control-regex
    assert.match(ttyText.replace(/\u001b\[[0-9;]*m/g, ''), readable);
    const ttyJson = underTty(['--log-format', 'json']);
    assert.equal(await ttyJson.exited, 1, ttyJson.stdout());
    assert.ok(ttyJson.stdout().includes('"msg":"starting redishappy"') && !readable.test(ttyJson.stdout().replace(/\r/g, '')), `--log-format json on a terminal: ${ttyJson.stdout()}`);

    const bad = runBin(cleanup, 'redishappy', [...args, '--log-format', 'xml']);
    assert.equal(await bad.exited, 2);
    assert.match(bad.stderr(), /--log-format <format>' argument 'xml' is invalid\. Allowed choices are auto, pretty, json/);
  });

  it('npm start runs the daemon (npm start -- --help)', async () => {
    const root = new URL('../..', import.meta.url).pathname;
    const d = runProcess(cleanup, 'npm', ['start', '--silent', '--', '--help'], { REDISHAPPY_FROM_SOURCE: '1' }, root);
    assert.equal(await d.exited, 0, d.stderr());
    assert.match(d.stdout(), /^Usage: redishappy \[options\]/);
  });

  it('serves the API from real sentinels, reloads on SIGHUP, and stops cleanly on SIGTERM', { timeout: 90000 }, async () => {
    const cluster = await startCluster(cleanup, { names: ['alpha', 'beta'], replicas: 0, sentinels: 1 });
    const s = cluster.sentinels[0]!;
    const cfgPath = join(dir, 'daemon.json');
    const base = { Sentinels: [{ Host: s.host, Port: s.port, Password: '' }], Watcher: FAST_WATCHER, Syslog: { Enabled: false }, SentinelPassword: 's3cret' };
    writeFileSync(cfgPath, JSON.stringify({ ...base, Clusters: [{ Name: 'alpha', ExternalPort: 7001 }] }));
    const logDir = join(dir, 'logs');
    const d = runBin(cleanup, 'redishappy', ['-config', cfgPath, '-log', logDir, '-bind', ANY_PORT]);
    const api = await waitListening(d);

    const ping = await fetch(`${api}/api/ping`);
    assert.equal(ping.status, 200);
    assert.match(ping.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await ping.text(), 'Pong');
    assert.equal((await fetch(`${api}/api/ping`, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(`${api}/api/ping`, { method: 'POST' })).status, 405);
    assert.equal((await fetch(`${api}/api/nothing`)).status, 404);

    const topo = await waitFor(async () => {
      const t = (await (await fetch(`${api}/api/topology`)).json()) as Array<Record<string, unknown>>;
      return t[0]?.confirmed ? t : undefined;
    }, { timeoutMs: 10000, what: 'alpha confirmed' });
    assert.deepEqual(topo.map((c) => [c.name, c.externalPort, c.ip, c.port]), [['alpha', 7001, '127.0.0.1', cluster.masters.get('alpha')!.port]]);
    assert.deepEqual(topo[0]!.agreeingSentinels, [`${s.host}:${s.port}`]);
    assert.equal(typeof topo[0]!.configEpoch, 'number');

    const sentinels = (await (await fetch(`${api}/api/sentinels`)).json()) as { sentinels: Record<string, Record<string, unknown>> };
    const entry = sentinels.sentinels[`${s.host}:${s.port}`]!;
    assert.equal(entry.state, 3);
    assert.equal(entry.stateName, 'alive');
    assert.deepEqual(entry.clusters, ['alpha', 'beta']);
    assert.match(String(entry.lastUpdated), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);

    const conf = await (await fetch(`${api}/api/configuration`)).text();
    assert.ok(!conf.includes('s3cret'), 'secret redacted');
    const confJson = JSON.parse(conf) as Record<string, unknown>;
    assert.equal(confJson.sentinelPassword, '<redacted>');
    assert.deepEqual(confJson.clusters, [{ name: 'alpha', externalPort: 7001 }]);

    // SIGHUP with a broken file: kept running on the old configuration.
    writeFileSync(cfgPath, '{ "Clusters": [ }');
    d.child.kill('SIGHUP');
    await waitFor(() => d.logs().some((l) => String(l.msg).startsWith('configuration reload rejected')), { timeoutMs: 5000, what: 'reload rejected' });
    assert.equal((await fetch(`${api}/api/ping`)).status, 200);
    const kept = JSON.parse(await (await fetch(`${api}/api/configuration`)).text()) as Record<string, unknown>;
    assert.deepEqual(kept, confJson, 'the previous configuration is still in force after the rejected reload');

    // SIGHUP with a valid file adding a cluster.
    writeFileSync(cfgPath, JSON.stringify({ ...base, Clusters: [{ Name: 'alpha', ExternalPort: 7001 }, { Name: 'beta', ExternalPort: 7002 }] }));
    d.child.kill('SIGHUP');
    await waitFor(async () => {
      const t = (await (await fetch(`${api}/api/topology`)).json()) as Array<Record<string, unknown>>;
      return t.length === 2 && t[1]?.port === cluster.masters.get('beta')!.port;
    }, { timeoutMs: 10000, what: 'beta confirmed after SIGHUP' });

    d.child.kill('SIGTERM');
    assert.equal(await d.exited, 0);
    assert.ok(d.logs().some((l) => l.msg === 'stopped'));
    assert.ok(existsSync(join(logDir, 'redis-happy.log')));
    const fileLog = readFileSync(join(logDir, 'redis-happy.log'), 'utf8');
    assert.ok(fileLog.includes('master confirmed'));
    assert.ok(!fileLog.includes('s3cret') && !d.stdout().includes('s3cret'), 'secrets never logged');
  });
});
