import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, statSync, chmodSync, symlinkSync, readdirSync, existsSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { haproxySectionSchema } from '../../src/outputs/haproxy/config.js';
import { assertSafeWord, canonicalIp, parseRuntimeSocket, parseServersState } from '../../src/outputs/haproxy/runtime.js';
import { runShell, shellQuote } from '../../src/outputs/file/shell.js';
import { restoreFile, writeAtomic } from '../../src/outputs/file/apply-file.js';

const dir = mkdtempSync(join(tmpdir(), 'rh-haproxy-unit-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('HAProxy section schema', () => {
  it('fills the defaults', () => {
    const s = haproxySectionSchema.parse({ TemplatePath: 't.cfg', OutputPath: '/etc/haproxy/haproxy.cfg', ReloadCommand: 'systemctl reload haproxy' });
    assert.equal(s.ValidateCommand, 'haproxy -c -f {file}');
    assert.equal(s.ReloadTimeoutMs, 10000);
    assert.equal(s.ValidateTimeoutMs, 10000);
    assert.equal(s.RuntimeTimeoutMs, 2000);
    assert.equal(s.RuntimeSocket, undefined);
    assert.equal(s.Servers, undefined);
  });

  it('gives short, human messages', () => {
    const r = haproxySectionSchema.safeParse({ TemplatePath: ' ', ReloadCommand: 3, ReloadTimeoutMs: -1, Servers: { a: 'no-slash', b: 'bk b/x' } });
    assert.ok(!r.success);
    const byPath = new Map(r.error.issues.map((i) => [i.path.join('.'), i.message]));
    assert.equal(byPath.get('TemplatePath'), 'must be a non-empty string');
    assert.equal(byPath.get('OutputPath'), 'is required');
    assert.equal(byPath.get('ReloadCommand'), 'must be a non-empty string');
    assert.equal(byPath.get('ReloadTimeoutMs'), 'must be at least 1');
    assert.match(byPath.get('Servers.a') ?? '', /backend\/server/);
    assert.match(byPath.get('Servers.b') ?? '', /backend\/server/);
  });

  it('allows an empty ValidateCommand (validation off)', () => {
    assert.equal(haproxySectionSchema.parse({ TemplatePath: 't', OutputPath: 'o', ReloadCommand: 'r', ValidateCommand: '' }).ValidateCommand, '');
  });
});

describe('HAProxy runtime API helpers', () => {
  it('tells unix sockets from host:port', () => {
    assert.deepEqual(parseRuntimeSocket('/run/haproxy/admin.sock'), { path: '/run/haproxy/admin.sock' });
    assert.deepEqual(parseRuntimeSocket('unix@/run/x.sock'), { path: '/run/x.sock' });
    assert.deepEqual(parseRuntimeSocket('127.0.0.1:9999'), { host: '127.0.0.1', port: 9999 });
    assert.deepEqual(parseRuntimeSocket('[::1]:9999'), { host: '::1', port: 9999 });
    assert.deepEqual(parseRuntimeSocket('admin.sock'), { path: 'admin.sock' });
  });

  it('parses show servers state (HAProxy 2.6 output)', () => {
    const text =
      '1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n3 bk_testing 1 R_testing_1 127.0.0.1 2 0 1 1 6 6 3 4 6 0 0 0 - 17001 - 0 0 - - 0\n\n';
    assert.deepEqual(parseServersState(text), [{ backend: 'bk_testing', server: 'R_testing_1', addr: '127.0.0.1', port: 17001, opState: 2, adminState: 0 }]);
    assert.deepEqual(parseServersState("Can't find backend.\n\n"), []);
  });

  it('compares IPv6 addresses canonically', () => {
    assert.equal(canonicalIp('0:0:0:0:0:0:0:1'), '::1');
    assert.equal(canonicalIp('10.0.0.1'), '10.0.0.1');
  });

  it('refuses values that would split or end a command', () => {
    for (const bad of ['a b', 'a;b', 'a\nb', 'a#b', '']) assert.throws(() => assertSafeWord('server', bad), /cannot be used/);
    assertSafeWord('server', 'R_testing_1');
  });
});

/** Dead or a zombie waiting for PID 1 to reap it. */
function gone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? true;
  } catch {
    return true;
  }
}

describe('shell commands', () => {
  it('captures stdout and stderr and the exit status', async () => {
    const r = await runShell('echo out; echo err >&2; exit 3', 5000);
    assert.equal(r.ok, false);
    assert.equal(r.code, 3);
    assert.match(r.output, /out/);
    assert.match(r.output, /err/);
  });

  it('kills the whole process group at the timeout', async () => {
    const pidFile = join(dir, 'child.pid');
    // The pid file is written at once; the timeout leaves ample room for that on a busy machine.
    const r = await runShell(`sleep 30 & echo $! > ${shellQuote(pidFile)}; wait`, 2000);
    assert.equal(r.timedOut, true);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    // The background child is in the same group and must be gone (poll: SIGKILL delivery is async).
    const deadline = Date.now() + 3000;
    while (!gone(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.ok(gone(pid), 'background child still running');
  });

  it('does not wait for a daemonised child that keeps the output pipe', async () => {
    const pidFile = join(dir, 'daemon.pid');
    const r = await runShell(`setsid sleep 30 & echo $! > ${shellQuote(pidFile)}; echo done`, 5000);
    try {
      // Waiting for the pipe to close would have hit the 5 s timeout (not ok) long before the
      // daemonised child exits; it is still running when the call returns.
      assert.equal(r.ok, true);
      assert.equal(r.timedOut, false);
      assert.match(r.output, /done/);
      assert.ok(!gone(Number(readFileSync(pidFile, 'utf8'))), 'the daemonised child is still running');
    } finally {
      process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    }
  });

  it('quotes paths for the shell', async () => {
    const r = await runShell(`printf %s ${shellQuote("it's a $path")}`, 5000);
    assert.equal(r.output, "it's a $path");
  });
});

describe('atomic file replacement', () => {
  it('creates a missing file with 0644 and leaves no temp file', async () => {
    const p = join(dir, 'new.cfg');
    await writeAtomic(p, 'hello\n');
    assert.equal(readFileSync(p, 'utf8'), 'hello\n');
    assert.equal(statSync(p).mode & 0o777, 0o644);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
    );
  });

  it("keeps the old file's mode", async () => {
    const p = join(dir, 'mode.cfg');
    writeFileSync(p, 'old');
    chmodSync(p, 0o640);
    await writeAtomic(p, 'new');
    assert.equal(readFileSync(p, 'utf8'), 'new');
    assert.equal(statSync(p).mode & 0o777, 0o640);
  });

  it('replaces the target of a symlink, keeping the link', async () => {
    const real = join(dir, 'real.cfg');
    const link = join(dir, 'link.cfg');
    writeFileSync(real, 'old');
    symlinkSync(real, link);
    await writeAtomic(link, 'new');
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.equal(readFileSync(real, 'utf8'), 'new');
  });

  it('restores to "no file" when there was none', async () => {
    const p = join(dir, 'gone.cfg');
    writeFileSync(p, 'x');
    await restoreFile(p, null);
    assert.equal(existsSync(p), false);
    await restoreFile(p, 'back');
    assert.equal(readFileSync(p, 'utf8'), 'back');
  });
});
