import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pidAlive, startCluster, testCleanup, useCleanup, waitFor, within } from '../harness/index.js';
import { bundlePath, runBundle } from '../support/bundle-process.js';
import { ANY_PORT, waitListening } from '../support/daemon-process.js';
import { FAST_WATCHER } from '../support/watch.js';
import { execHookSchema } from '../../src/outputs/hooks/config.js';
import { runExecHook } from '../../src/outputs/hooks/deliver-exec.js';
import type { HookEvent } from '../../src/outputs/hooks/payload.js';
import { runShell, shellQuote } from '../../src/outputs/file/shell.js';
import { Spawner, startSpawner } from '../../src/spawn/spawner.js';

/** What the spawner logs, kept for assertions. */
function captureLog(): { warnings: string[]; warn(obj: object, msg: string): void } {
  const warnings: string[] = [];
  return { warnings, warn: (_obj, msg) => warnings.push(msg) };
}

/** The parent pid of a process, from /proc. */
function parentOf(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
}

/** Processes (zombies included) whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (parentOf(Number(entry)) === pid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

const fdCount = (pid: number | 'self') => readdirSync(`/proc/${pid}/fd`).length;

const event: HookEvent = {
  event: 'master-changed',
  deliveryId: 'd-1',
  cluster: 'c',
  previous: null,
  current: { ip: '127.0.0.1', port: 6379 },
  configEpoch: 1,
  confirmedAt: new Date().toISOString(),
  announcedAt: null,
  read: { externalReadPort: null, serving: [] },
  topology: { version: 1, clusters: [] } as unknown as HookEvent['topology'],
};

/**
 * The resident spawner (src/spawn/spawner.ts): commands of ReloadCommand / ValidateCommand (runShell)
 * and Exec hooks are forked by the helper process, which is restarted when it dies; when it
 * cannot run at all the daemon forks them itself.
 */
describe('spawner helper', { timeout: 120000 }, () => {
  // The process-wide spawner runShell and runExecHook use, as main() starts it.
  const log = captureLog();
  const spawner = startSpawner(log);

  it('runs commands from the helper, not from the daemon', async () => {
    const r = await within(runShell('echo $PPID', 30000), 60000, 'first command');
    assert.ok(r.ok, r.output);
    assert.ok(spawner.helperPid !== undefined);
    assert.equal(Number(r.output), spawner.helperPid, 'the shell is a child of the helper');
    assert.notEqual(spawner.helperPid, process.pid);
  });

  it('a helper killed under a running command: the command fails (no hang), its group is killed, the next command runs on a new helper', async (t) => {
    const cleanup = testCleanup(t);
    const dir = mkdtempSync(join(tmpdir(), 'rh-spawner-'));
    const pidFile = join(dir, 'sleep.pid');
    const running = runShell(`sleep 60 & echo $! > ${shellQuote(pidFile)}; wait`, 120000);
    const sleepPid = await waitFor(() => Number(readFileSync(pidFile, 'utf8')) || undefined, { timeoutMs: 30000, what: 'the command started' });
    cleanup.add(() => process.kill(sleepPid, 'SIGKILL'));
    const helper = spawner.helperPid!;
    assert.equal(parentOf(parentOf(sleepPid)), helper, 'the command runs under the helper');

    process.kill(helper, 'SIGKILL');
    await waitFor(() => !pidAlive(helper), { timeoutMs: 10000, what: 'the helper is gone' });
    const r = await within(running, 10000, 'the caller is answered');
    assert.equal(r.ok, false);
    assert.equal(r.signal, 'SIGKILL');
    assert.match(r.output, /spawn helper exited/);
    await waitFor(() => !pidAlive(sleepPid), { timeoutMs: 10000, what: "the orphaned command's process group is killed" });
    assert.deepEqual(log.warnings, ['the spawn helper exited; starting it again']);

    const next = await within(runShell('echo $PPID', 30000), 60000, 'a command after the restart');
    assert.ok(next.ok, next.output);
    assert.notEqual(Number(next.output), helper);
    assert.equal(Number(next.output), spawner.helperPid, 'run by the restarted helper');
    assert.equal(spawner.direct, false);
  });

  it('a command past its timeout: its whole process group is killed, even a child ignoring SIGTERM', async (t) => {
    const cleanup = testCleanup(t);
    const dir = mkdtempSync(join(tmpdir(), 'rh-spawner-'));
    const pidFile = join(dir, 'pids');
    const r = await within(runShell(`sh -c 'trap "" TERM; sleep 60' & echo $! >> ${shellQuote(pidFile)}; sleep 60 & echo $! >> ${shellQuote(pidFile)}; wait`, 1000), 30000, 'the timed-out command');
    const pids = readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
    for (const p of pids) cleanup.add(() => process.kill(p, 'SIGKILL'));
    assert.equal(pids.length, 2, 'both background children started');
    assert.equal(r.timedOut, true);
    assert.equal(r.ok, false);
    await waitFor(() => pids.every((p) => !pidAlive(p)), { timeoutMs: 15000, what: 'every process of the group killed' });
  });

  it('a stopped (stuck) helper: a command past its timeout still returns, and the helper is replaced', async (t) => {
    const cleanup = testCleanup(t);
    await runShell('true', 30000);
    const helper = spawner.helperPid!;
    cleanup.add(() => process.kill(helper, 'SIGKILL'));
    const warningsBefore = log.warnings.length;
    process.kill(helper, 'SIGSTOP');
    await waitFor(() => readFileSync(`/proc/${helper}/stat`, 'utf8').split(') ')[1]!.startsWith('T '), { timeoutMs: 10000, what: 'the helper is stopped' });
    const r = await within(runShell('sleep 60', 1000), 60000, 'the command on the stopped helper');
    assert.equal(r.timedOut, true);
    await waitFor(() => !pidAlive(helper), { timeoutMs: 10000, what: 'the stuck helper is killed' });
    assert.deepEqual(log.warnings.slice(warningsBefore), ['the spawn helper exited; starting it again']);
    const next = await within(runShell('echo $PPID', 30000), 60000, 'a command on the new helper');
    assert.equal(Number(next.output), spawner.helperPid);
    assert.notEqual(spawner.helperPid, helper);
  });

  it('large output (10 MB) is capped as before, with no hang', async () => {
    const r = await within(runShell(`head -c 10000000 /dev/zero | tr '\\0' x; echo end >&2`, 60000), 90000, 'the 10 MB command');
    assert.ok(r.ok);
    assert.equal(r.output, `${'x'.repeat(64 * 1024)}\n[output truncated]`);
    const hook = execHookSchema.parse({ Command: `head -c 10000000 /dev/zero | tr '\\0' y`, Shell: true, TimeoutMs: 60000 });
    const out = await within(runExecHook(hook, event, new AbortController().signal), 90000, 'the 10 MB hook');
    assert.equal(out, 'y'.repeat(4096));
  });

  it('an Exec hook gets its event on stdin and its variables, from the helper', async () => {
    const hook = execHookSchema.parse({ Command: 'echo "$PPID $REDISHAPPY_CLUSTER"; cat', Shell: true, TimeoutMs: 30000 });
    const out = await within(runExecHook(hook, event, new AbortController().signal), 60000, 'the hook');
    const [first, ...rest] = out.split('\n');
    assert.equal(first, `${spawner.helperPid} c`);
    assert.equal((JSON.parse(rest.join('\n')) as HookEvent).deliveryId, 'd-1');
  });

  it('100 commands leave no file descriptor and no process behind', async (t) => {
    const cleanup = testCleanup(t);
    await runShell('true', 30000);
    const helper = spawner.helperPid!;
    const ownFds = fdCount('self');
    const helperFds = fdCount(helper);
    for (let i = 0; i < 100; i++) {
      if (i % 10 === 9) {
        // A background child holding the output pipes: the caller stops waiting for it, and the
        // helper must then drop its ends of the pipes.
        const r = await runShell('sleep 60 & echo $$', 30000);
        const group = Number(r.output);
        assert.ok(group > 0, r.output);
        cleanup.add(() => process.kill(-group, 'SIGKILL'));
      } else if (i % 3 === 0) {
        const hook = execHookSchema.parse({ Command: 'cat >/dev/null; exit $1', Args: [String(i % 2)], Shell: true });
        await runExecHook(hook, event, new AbortController().signal).catch(() => 'failed');
      } else {
        const r = await runShell(`echo ${i}`, 30000);
        assert.equal(r.output, String(i));
      }
    }
    assert.equal(spawner.helperPid, helper, 'the same helper ran them all');
    await waitFor(() => fdCount('self') <= ownFds && fdCount(helper) <= helperFds, { timeoutMs: 10000, what: `descriptors back to ${ownFds} (daemon) and ${helperFds} (helper)` });
    assert.deepEqual(childrenOf(helper), [], 'no child of the helper left');
  });

  it('a helper that cannot run: commands are forked directly, with exactly one warning', async () => {
    const warned = captureLog();
    const broken = new Spawner({ entry: { execArgv: [], script: '/nonexistent/spawn-helper.cjs' }, log: warned });
    const run = (cmd: string) =>
      new Promise<string>((resolve, reject) => {
        const child = broken.spawn('/bin/sh', ['-c', cmd], { maxOutput: 1024 });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? child.once('close', () => resolve(out.trim())) : reject(new Error(`exit ${code}`))));
      });
    // Sent while the helper is still starting: they wait, then fall back.
    const first = await within(Promise.all([run('echo $PPID'), run('echo $PPID')]), 30000, 'commands queued for the helper');
    assert.equal(broken.direct, true);
    const later = await within(run('echo $PPID'), 30000, 'a command after the fallback');
    for (const ppid of [...first, later]) assert.equal(Number(ppid), process.pid, 'forked by the daemon itself');
    assert.equal(warned.warnings.length, 1, warned.warnings.join('; '));
    assert.match(warned.warnings[0]!, /could not be started; commands are now forked by the daemon itself/);
  });
});

/** The shipped artefact: build.mjs bundles the helper beside the daemon, and the daemon runs its commands there. */
describe('spawner helper in the single-file bundle', { timeout: 180000 }, () => {
  const cleanup = useCleanup();

  it('the bundled daemon runs ReloadCommand from its helper process, which exits with the daemon', async () => {
    bundlePath();
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 0, sentinels: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'rh-spawner-bundle-'));
    const reloadLog = join(dir, 'reload.log');
    writeFileSync(join(dir, 'tpl.txt'), '{{range .Clusters}}{{ .Name }} {{ .Ip }}:{{ .Port }}\n{{end}}');
    const cfg = join(dir, 'config.json');
    const Templates = [{ Name: 'file', TemplatePath: join(dir, 'tpl.txt'), OutputPath: join(dir, 'out.txt'), ReloadCommand: `echo $PPID >> ${shellQuote(reloadLog)}` }];
    writeFileSync(cfg, JSON.stringify({ Clusters: [{ Name: 'testing', ExternalPort: 6379 }], Sentinels: [{ Host: '127.0.0.1', Port: cluster.sentinels[0]!.port }], Watcher: FAST_WATCHER, Syslog: { Enabled: false }, Templates }));
    const d = runBundle(cleanup, 'auto', ['-config', cfg, '-bind', ANY_PORT]);
    await waitListening(d);
    await waitFor(() => existsSync(reloadLog) && readFileSync(reloadLog, 'utf8').trim() !== '', { timeoutMs: 30000, what: 'the first reload' });
    // ($PPID: who forked the shell.) Reloads that come before the helper has booted are forked by the daemon itself (start-up
    // never waits for it; on a loaded host that can last a few seconds): more reloads, made by a
    // SIGHUP with another template each, until one ran under the helper.
    let reloadedBy = 0;
    for (let i = 1; i <= 10 && !(reloadedBy && reloadedBy !== d.child.pid); i++) {
      writeFileSync(join(dir, 'tpl.txt'), `# again ${i}\n{{range .Clusters}}{{ .Name }} {{ .Ip }}:{{ .Port }}\n{{end}}`);
      d.child.kill('SIGHUP');
      reloadedBy = await waitFor(() => Number(readFileSync(reloadLog, 'utf8').split('\n')[i]), { timeoutMs: 30000, what: `reload ${i + 1} (after SIGHUP ${i})` });
    }
    assert.equal(parentOf(reloadedBy), d.child.pid, 'the shell runs under a child of the daemon');
    assert.notEqual(reloadedBy, d.child.pid, 'not forked by the daemon itself');
    assert.equal(readFileSync(`/proc/${reloadedBy}/cmdline`, 'utf8').replace(/\0+$/, ''), 'redishappy-spawner');
    assert.doesNotMatch(d.stdout(), /forked by the daemon itself/);
    d.child.kill('SIGTERM');
    assert.equal(await within(d.exited, 20000, 'the daemon exits'), 0);
    await waitFor(() => !pidAlive(reloadedBy), { timeoutMs: 10000, what: 'the helper exits with the daemon' });
  });
});
