import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { bindFailure, connectThrough, freePort, haproxyCli, retryOnPortClash, routedTo, startHaproxy, startRedis, useCleanup, waitFor, type HaproxyProcess, type RedisNode } from '../harness/index.js';
import { createHaproxyOutput, haproxySectionSchema, type HaproxyOutput } from '../../src/outputs/haproxy/index.js';
import type { MasterAddress, MasterChange, TopologySnapshot } from '../../src/topology/types.js';

/**
 * The HAProxy output against a real haproxy 2.6 (master-worker mode) and real redis-servers.
 * Snapshots are built by hand: this is about what the output does with a state, not how the
 * state is reached (the end-to-end failover tests cover that).
 */

/** The original template minus what needs root (daemon, chroot, user, group, /dev/log), on loopback. */
function template(adminSocket: string): string {
  return `global
 stats socket ${adminSocket} level admin

defaults
 mode tcp
 timeout client 60s
 timeout connect 1s
 timeout server 60s
 option tcpka

{{range .Clusters}}
## start cluster {{ .Name }}
frontend ft_{{ .Name }}
 bind 127.0.0.1:{{ .ExternalPort }}
 default_backend bk_{{ .Name }}

backend bk_{{ .Name }}
 server R_{{ .Name }}_1 {{ .Ip }}:{{ .Port }} maxconn 1024 check inter 100ms on-marked-down shutdown-sessions
## end cluster {{ .Name }}\t

{{end}}
`;
}

/** What HAProxy starts with before redishappy has written anything: no frontends. */
function bootstrap(adminSocket: string): string {
  return `global\n stats socket ${adminSocket} level admin\n\ndefaults\n mode tcp\n timeout client 60s\n timeout connect 1s\n timeout server 60s\n`;
}

interface Env {
  dir: string;
  templatePath: string;
  outputPath: string;
  adminSocket: string;
  reloadLog: string;
  ext: number;
  haproxy: HaproxyProcess | null;
  output: HaproxyOutput;
  logs: string[];
  /** What setup() was given, to set up again on a new port (startOnA). */
  opts: SetupOptions;
}

type SetupOptions = { runtime?: boolean; startHaproxy?: boolean; createOutput?: boolean; reloadCommand?: (env: { reloadLog: string; pid: number | undefined }) => string; haproxy?: Record<string, unknown> };

const cleanup = useCleanup();
let A: RedisNode;
let B: RedisNode;

before(async () => {
  [A, B] = await Promise.all([startRedis(cleanup), startRedis(cleanup)]);
});

const reloads = (env: Env) => (existsSync(env.reloadLog) ? readFileSync(env.reloadLog, 'utf8').split('\n').filter(Boolean).length : 0);

/**
 * HAProxy (master-worker) and an output driving it. `ext`, the frontend's port, comes from
 * freePort (it is written into the config before HAProxy binds it): startOnA sets everything up
 * again on a new port if it was taken meanwhile.
 */
async function setup(opts: SetupOptions = {}): Promise<Env> {
  const dir = mkdtempSync(join(tmpdir(), 'rh-haproxy-output-'));
  const adminSocket = join(dir, 'admin.sock');
  const templatePath = join(dir, 'haproxy_template.cfg');
  const outputPath = join(dir, 'haproxy.cfg');
  const reloadLog = join(dir, 'reloads.log');
  writeFileSync(templatePath, template(adminSocket));
  if (opts.createOutput ?? true) writeFileSync(outputPath, bootstrap(adminSocket));
  const haproxy = (opts.startHaproxy ?? true) ? await startHaproxy(cleanup, { configPath: outputPath, masterWorker: true }) : null;
  // Master-worker mode: SIGUSR2 to the master reloads. Each reload appends a line we can count.
  const reloadCommand = opts.reloadCommand?.({ reloadLog, pid: haproxy?.pid }) ?? (haproxy ? `echo reload >> ${reloadLog} && kill -USR2 ${haproxy.pid}` : `echo reload >> ${reloadLog}`);
  const config = haproxySectionSchema.parse({
    TemplatePath: templatePath,
    OutputPath: outputPath,
    ReloadCommand: reloadCommand,
    ...(opts.runtime ? { RuntimeSocket: adminSocket } : {}),
    ...opts.haproxy,
  });
  const logs: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) });
  const output = createHaproxyOutput({ config, logger, clusterNames: ['testing', 'other'] });
  return { dir, templatePath, outputPath, adminSocket, reloadLog, ext: await freePort(), haproxy, output, logs, opts };
}

function snap(env: Env, version: number, master: RedisNode | MasterAddress | null, other: MasterAddress | null = null): TopologySnapshot {
  const m = master ? { ip: '127.0.0.1', port: master.port } : null;
  return {
    version,
    clusters: [
      { name: 'other', externalPort: 1, master: other, configEpoch: other ? 1 : null, confirmedAt: other ? new Date().toISOString() : null, agreeingSentinels: [] },
      { name: 'testing', externalPort: env.ext, master: m, configEpoch: m ? version : null, confirmedAt: m ? new Date().toISOString() : null, agreeingSentinels: [] },
    ],
  };
}

function change(from: RedisNode, to: RedisNode, epoch: number): MasterChange {
  return { cluster: 'testing', previous: { ip: '127.0.0.1', port: from.port }, current: { ip: '127.0.0.1', port: to.port }, configEpoch: epoch, confirmedAt: new Date().toISOString(), announcedAt: Date.now() };
}

async function workers(env: Env): Promise<string[]> {
  // Just after a USR2 reload the 2.6 master re-executes itself and refuses its CLI for a moment.
  const out = await waitFor(() => haproxyCli(env.haproxy!.masterSocket!, 'show proc').catch(() => undefined), { timeoutMs: 10000, what: 'the HAProxy master CLI' });
  return out
    .split('\n')
    .filter((l) => /\bworker\b/.test(l))
    .map((l) => l.trim().split(/\s+/)[0]!);
}

/**
 * First apply: the file is written, HAProxy reloaded once, and the external port reaches A. If
 * HAProxy cannot bind `ext` (taken since freePort chose it), `env` is set up again from scratch
 * (new HAProxy, new output, new port) and the first apply made again.
 */
async function startOnA(env: Env): Promise<void> {
  await retryOnPortClash(cleanup, 'HAProxy output', async (_scope, attempt) => {
    if (attempt > 1) {
      await env.haproxy?.kill();
      Object.assign(env, await setup(env.opts));
    }
    await env.output.init!();
    await env.output.apply(snap(env, 1, A), []);
    assert.equal(reloads(env), 1);
    await waitFor(async () => (await routedTo(env.ext)) === A.port, { timeoutMs: 10000, what: 'HAProxy to route to A', stopIf: () => (env.haproxy ? bindFailure(env.haproxy, [env.ext]) : undefined) });
  });
}

/** Dead or a zombie (our container's PID 1 reaps orphans only now and then). */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

const details = (env: Env) => env.output.status().details as Record<string, unknown>;

function closedWithin(client: { once(ev: 'close', fn: () => void): unknown; status: string }, ms: number): Promise<void> {
  if (client.status === 'end' || client.status === 'close') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`connection still open after ${ms} ms`)), ms);
    client.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

describe('HAProxy output against real haproxy and redis', { timeout: 120000 }, () => {
  it('writes and reloads on the first apply, then does nothing for an identical state', async () => {
    const env = await setup();
    await startOnA(env);
    const text = readFileSync(env.outputPath, 'utf8');
    assert.match(text, new RegExp(`server R_testing_1 127\\.0\\.0\\.1:${A.port} maxconn`));
    assert.match(text, /## end cluster testing\t\n/, 'template text kept byte for byte (trailing TAB)');
    // The unconfirmed cluster is absent: no frontend, never ":0" or an empty address.
    assert.doesNotMatch(text, /ft_other|bk_other|:0 | :\d/);
    const mtime = statSync(env.outputPath).mtimeMs;

    // Same state again (also with a new version number): no write, no reload.
    await env.output.apply(snap(env, 1, A), []);
    await env.output.apply(snap(env, 2, A), []);
    assert.equal(reloads(env), 1, 'no reload when nothing changed');
    assert.equal(statSync(env.outputPath).mtimeMs, mtime, 'file not rewritten');
    const d = details(env);
    assert.equal(d.reloads, 1);
    assert.equal(d.writes, 1);
    assert.equal(d.renders, 3);
    assert.equal(d.lastOutcome, 'unchanged');
    assert.equal(env.output.status().appliedVersion, 2);
    assert.equal(await env.output.renderedFile(), text);
    assert.equal(env.output.templateText(), readFileSync(env.templatePath, 'utf8'));
    assert.deepEqual(
      readdirSync(env.dir).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });

  it('with RuntimeSocket: switches to B live, without a reload, and cuts the connection opened before', async () => {
    const env = await setup({ runtime: true });
    await startOnA(env);
    const workersBefore = await workers(env);
    const early = await connectThrough(env.ext);
    assert.equal(early.port, A.port);
    await early.client.set('k', 'v');

    await env.output.apply(snap(env, 2, B), [change(A, B, 2)]);
    // The very next connection lands on B: the running HAProxy was switched before apply returned.
    assert.equal(await routedTo(env.ext), B.port);
    await closedWithin(early.client, 5000);

    assert.equal(reloads(env), 1, 'no reload');
    assert.deepEqual(await workers(env), workersBefore, 'same HAProxy worker');
    assert.match(readFileSync(env.outputPath, 'utf8'), new RegExp(`server R_testing_1 127\\.0\\.0\\.1:${B.port} maxconn`), 'file written for the next restart');
    const d = details(env);
    assert.equal(d.runtimeSwitches, 1);
    assert.equal(d.runtimeFailures, 0);
    assert.equal(d.lastOutcome, 'runtime');
    assert.ok(d.lastRuntimeSwitchAt);
    for (let i = 0; i < 10; i++) assert.equal(await routedTo(env.ext), B.port);

    // And back: the previous state now is B, so A is switched live too.
    await env.output.apply(snap(env, 3, A), [change(B, A, 3)]);
    assert.equal(await routedTo(env.ext), A.port);
    assert.equal(reloads(env), 1);
    assert.equal(details(env).runtimeSwitches, 2);
  });

  it('without RuntimeSocket: one reload, and new connections land on B', async () => {
    const env = await setup();
    await startOnA(env);
    await env.output.apply(snap(env, 2, B), [change(A, B, 2)]);
    assert.equal(reloads(env), 2);
    await waitFor(async () => (await routedTo(env.ext)) === B.port, { timeoutMs: 10000, what: 'HAProxy to route to B after the reload' });
    assert.equal(details(env).lastOutcome, 'reloaded');
  });

  it('with RuntimeSocket: falls back to a reload when the server is not in the running HAProxy', async () => {
    const env = await setup({ runtime: true, haproxy: { Servers: { testing: 'bk_testing/not_there' } } });
    await startOnA(env);
    await env.output.apply(snap(env, 2, B), [change(A, B, 2)]);
    assert.equal(reloads(env), 2);
    const d = details(env);
    assert.equal(d.runtimeFailures, 1);
    assert.match(String(d.lastRuntimeError), /bk_testing\/not_there.*does not exist/);
    await waitFor(async () => (await routedTo(env.ext)) === B.port, { timeoutMs: 10000, what: 'HAProxy to route to B after the fallback reload' });
  });

  it('with RuntimeSocket: reloads (not a live switch) when more than the address changed', async () => {
    const env = await setup({ runtime: true });
    await startOnA(env);
    // A new cluster appears together with the switch: it needs a frontend, so a reload. Its port
    // is in the config before HAProxy binds it: if it was taken meanwhile, HAProxy keeps its old
    // config, and the state is applied again with another port (one more reload).
    await retryOnPortClash(cleanup, 'a second HAProxy frontend', async (_scope, attempt) => {
      const otherPort = await freePort();
      const s = snap(env, 1 + attempt, B, { ip: '127.0.0.1', port: A.port });
      s.clusters[0]!.externalPort = otherPort;
      await env.output.apply(s, [change(A, B, 1 + attempt), { cluster: 'other', previous: null, current: { ip: '127.0.0.1', port: A.port }, configEpoch: 1, confirmedAt: new Date().toISOString(), announcedAt: null }]);
      assert.equal(reloads(env), 1 + attempt, 'a reload');
      assert.equal(details(env).runtimeSwitches, 0);
      await waitFor(async () => (await routedTo(env.ext)) === B.port && (await routedTo(otherPort)) === A.port, { timeoutMs: 10000, what: 'both clusters routed after the reload', stopIf: () => bindFailure(env.haproxy!, [otherPort]) });
    });
  });

  it('keeps the old file byte for byte when haproxy -c rejects the new one, and reports HAProxy\'s error', async () => {
    const env = await setup();
    await startOnA(env);
    const good = readFileSync(env.outputPath);
    writeFileSync(env.templatePath, readFileSync(env.templatePath, 'utf8').replace(' mode tcp', ' mode tcp\n bogus-keyword here'));
    await assert.rejects(env.output.apply(snap(env, 2, B), [change(A, B, 2)]), /HAProxy rejected the new configuration/);
    assert.deepEqual(readFileSync(env.outputPath), good);
    const st = env.output.status();
    assert.match(String(st.lastError), /bogus-keyword/);
    assert.match(String((st.details as Record<string, unknown>).lastValidationError), /bogus-keyword/);
    assert.equal((st.details as Record<string, unknown>).validationFailures, 1);
    assert.equal(reloads(env), 1, 'no reload');
    assert.deepEqual(
      readdirSync(env.dir).filter((f) => f.endsWith('.tmp')),
      [],
      'candidate removed',
    );
    assert.equal(await routedTo(env.ext), A.port, 'HAProxy untouched');
  });

  it('puts the previous file back when the reload command fails, and records its output', async () => {
    const env = await setup({ reloadCommand: ({ reloadLog, pid }) => `echo reload >> ${reloadLog}; if [ -e ${reloadLog}.broken ]; then echo "reload broke: no way" >&2; exit 3; fi; kill -USR2 ${pid}` });
    await startOnA(env);
    const good = readFileSync(env.outputPath);
    writeFileSync(`${env.reloadLog}.broken`, '');
    await assert.rejects(env.output.apply(snap(env, 2, B), [change(A, B, 2)]), /reload command exit status 3: reload broke: no way/);
    assert.deepEqual(readFileSync(env.outputPath), good, 'previous file restored');
    const st = env.output.status();
    assert.match(String(st.lastError), /reload broke/);
    const d = st.details as Record<string, unknown>;
    assert.equal(d.reloadFailures, 1);
    assert.match(String(d.lastReloadOutput), /reload broke: no way/);
    assert.equal(await routedTo(env.ext), A.port);

    // The runner retries: once the command works again the same apply goes through.
    await assert.rejects(env.output.apply(snap(env, 2, B), [change(A, B, 2)]));
    assert.equal(reloads(env), 3);
    const { unlinkSync } = await import('node:fs');
    unlinkSync(`${env.reloadLog}.broken`);
    await env.output.apply(snap(env, 2, B), [change(A, B, 2)]);
    assert.equal(env.output.status().lastError, null);
    await waitFor(async () => (await routedTo(env.ext)) === B.port, { timeoutMs: 10000, what: 'B after the retried reload' });

    // A failed reload leaves us unsure what HAProxy runs: even an unchanged state is reloaded once.
    writeFileSync(`${env.reloadLog}.broken`, '');
    await assert.rejects(env.output.apply(snap(env, 3, A), [change(B, A, 3)]));
    unlinkSync(`${env.reloadLog}.broken`);
    const before = reloads(env);
    await env.output.apply(snap(env, 3, B), []);
    assert.equal(reloads(env), before + 1, 'reload owed after a failure');
    await env.output.apply(snap(env, 3, B), []);
    assert.equal(reloads(env), before + 1, 'and only once');
  });

  it('kills a hanging reload command at ReloadTimeoutMs and restores the file', async () => {
    const env = await setup({
      startHaproxy: false,
      // The child marks its own end: an apply that waited for it would find the mark afterwards.
      reloadCommand: ({ reloadLog }) => `echo $$ > ${reloadLog}.pid; (sleep 30; echo ended > ${reloadLog}.end) & echo $! >> ${reloadLog}.pid; wait`,
      // The shell writes both pids at once; 2 s leaves ample room for that on a busy machine.
      haproxy: { ReloadTimeoutMs: 2000 },
    });
    await env.output.init!();
    const before = readFileSync(env.outputPath);
    await assert.rejects(env.output.apply(snap(env, 1, A), []), /timed out after 2000 ms/);
    // The apply did not wait for the command's child to end on its own.
    assert.equal(existsSync(`${env.reloadLog}.end`), false, 'the apply returned only after the reload command had finished by itself');
    assert.deepEqual(readFileSync(env.outputPath), before);
    const pids = readFileSync(`${env.reloadLog}.pid`, 'utf8').split('\n').filter(Boolean).map(Number);
    assert.equal(pids.length, 2);
    await waitFor(() => pids.every(gone), { timeoutMs: 3000, what: 'the reload shell and its child to be gone' });
  });

  it('creates OutputPath when it does not exist, and does not touch it at init', async () => {
    const env = await setup({ startHaproxy: false, createOutput: false });
    await env.output.init!();
    assert.equal(existsSync(env.outputPath), false, 'init does not create or touch the file');
    await env.output.apply(snap(env, 1, A), []);
    assert.match(readFileSync(env.outputPath, 'utf8'), new RegExp(`127\\.0\\.0\\.1:${A.port}`));
    assert.equal(statSync(env.outputPath).mode & 0o777, 0o644);
    assert.equal(reloads(env), 1);
  });

  it('refuses to start on a template that does not parse, naming the file and line', async () => {
    const env = await setup({ startHaproxy: false });
    writeFileSync(env.templatePath, 'global\n\n{{range .Clusters}}\nserver {{ .Name }}\n');
    await assert.rejects(env.output.init!(), (err: Error) => {
      assert.ok(err.message.includes(env.templatePath), err.message);
      assert.match(err.message, /:\d+/);
      return true;
    });
  });

  it('keeps rendering with the last good template when an edit does not parse, and picks up a good edit', async () => {
    const env = await setup({ startHaproxy: false });
    await env.output.init!();
    await env.output.apply(snap(env, 1, A), []);
    const good = env.output.templateText();
    writeFileSync(env.templatePath, `${good}\n{{ range .Clusters }}\n`);
    await env.output.apply(snap(env, 2, B), [change(A, B, 2)]);
    assert.match(readFileSync(env.outputPath, 'utf8'), new RegExp(`127\\.0\\.0\\.1:${B.port}`), 'rendered with the previous template');
    assert.equal(env.output.templateText(), good);
    const st = env.output.status();
    assert.match(String((st.details as Record<string, unknown>).templateProblem), /still using the template loaded before/);
    assert.ok(st.lastError?.includes(env.templatePath));
    assert.equal(env.logs.filter((l) => l.includes('template edit not used')).length, 1);
    await env.output.apply(snap(env, 2, B), []);
    assert.equal(env.logs.filter((l) => l.includes('template edit not used')).length, 1, 'reported once per edit');

    writeFileSync(env.templatePath, `# edited\n${good}`);
    await env.output.apply(snap(env, 2, B), []);
    assert.ok(readFileSync(env.outputPath, 'utf8').startsWith('# edited\n'));
    assert.equal(env.output.status().lastError, null);
    assert.equal(reloads(env), 3);
  });
});
