import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { waitFor, testCleanup } from '../harness/index.js';
import { chaosRig, sleep } from './setup.js';
import { summarize } from './scenario.js';
import { assertRefused } from './proof.js';
import { WriterPool } from './writer.js';

describe('chaos 5: the daemon killed -9', { timeout: 150000 }, () => {

  it('in steady state: HAProxy keeps serving; the restart writes and reloads nothing', async (t) => {
    const cleanup = testCleanup(t);
    const rig = await chaosRig(cleanup);
    const master = rig.cluster.masters.get('testing')!;
    const writers = new WriterPool(rig.ext, 'daemon-kill-steady', { patient: 1 });
    cleanup.add(() => writers.stop());
    await waitFor(() => writers.acked > 200, { timeoutMs: 10000, what: 'writes flowing' });
    const reloads = rig.reloads();
    const file = readFileSync(rig.setup.outputPath, 'utf8');
    rig.daemon.child.kill('SIGKILL');
    await rig.daemon.exited;
    // The fault: the daemon died of the kill, and nothing answers on its API port.
    assert.equal(rig.daemon.child.signalCode, 'SIGKILL');
    await assertRefused(rig.apiPort, 'the killed daemon');
    const n = writers.acked;
    await waitFor(() => writers.acked > n + 300, { timeoutMs: 10000, what: 'writes with the daemon dead' });
    await rig.startDaemon();
    await waitFor(async () => (await rig.api<{ outputs: Array<{ appliedVersion: number | null }> }>('/api/outputs')).outputs[0]?.appliedVersion != null, { timeoutMs: 15000, what: 'the restarted daemon applied' });
    const m = writers.acked;
    await waitFor(() => writers.acked > m + 300, { timeoutMs: 10000, what: 'writes after the restart' });
    await writers.stop();
    const d = await rig.haproxyDetails();
    assert.equal(d.lastOutcome, 'unchanged', 'the restart found HAProxy up to date');
    assert.equal(d.writes, 0, 'the restart wrote nothing');
    assert.equal(d.runtimeSwitches, 0, 'the restart switched nothing');
    assert.equal(rig.reloads(), reloads, 'no reload after the restart');
    assert.equal(readFileSync(rig.setup.outputPath, 'utf8'), file);
    const s = await summarize('daemon-kill-steady', writers, rig.switches, master.port);
    assert.ok(writers.acks.every((a) => a.node === master.port));
    assert.ok(s.unavailable_ms < 1000, `writes stalled ${s.unavailable_ms} ms although only the daemon died`);
  });

  it('in the middle of applies: the file is always the old or the new complete file, and the restart finishes the job', async (t) => {
    const cleanup = testCleanup(t);
    // The HTTP probe listens on a unix socket (in a directory of its own, away from the files
    // watched below), not on a TCP port from freePort: a port taken before HAProxy's reload binds it
    // could not be retried in place (after a reload that failed to bind, HAProxy 2.6's master
    // ignores the next SIGUSR2).
    const probeSocket = join(mkdtempSync(join(tmpdir(), 'rh-c5-probe-')), 'probe.sock');
    // Reload mode. Kills are aimed by gates the test opens, not by delays: the commands wait for an
    // event, bounded (20 s) so that nothing is left waiting.
    // - Validation: while `holdValidation` exists, the validate command (still haproxy -c), given the
    //   file the step expects (not one of the likely next files the daemon pre-validates in the
    //   background), drops a flag file and waits for the daemon ($PPID of the shell) to die: a kill
    //   on the flag lands during validation.
    // - Reload: while `holdReload` exists, the reload command waits for its daemon to die; it reloads
    //   only if the daemon is still alive, so a kill after the rename leaves HAProxy on the old file.
    // Every reload command logs its start and end, so the test knows when the dead daemon's orphaned
    // commands are over before it counts reloads.
    let validatingFlag = '';
    let expected = '';
    let holdValidation = '';
    let holdReload = '';
    let reloadCommands = '';
    const rig = await chaosRig(cleanup, {
      runtime: false,
      configure: (cfg) => {
        const at = (f: string) => join(String(cfg.HAProxy!.OutputPath), '..', f);
        validatingFlag = at('validating.flag');
        expected = at('expected.txt');
        holdValidation = at('hold-validation');
        holdReload = at('hold-reload');
        reloadCommands = at('reload-commands.log');
        const untilDaemonGone = 'i=0; while kill -0 $PPID 2>/dev/null && [ $i -lt 2000 ]; do sleep 0.01; i=$((i+1)); done';
        cfg.HAProxy!.ValidateCommand = `if [ -e ${holdValidation} ] && cmp -s {file} ${expected}; then touch ${validatingFlag}; ${untilDaemonGone}; fi; haproxy -c -q -f {file}`;
        cfg.HAProxy!.ReloadCommand = `echo start >> ${reloadCommands}; if [ -e ${holdReload} ]; then ${untilDaemonGone}; fi; if kill -0 $PPID 2>/dev/null; then ${String(cfg.HAProxy!.ReloadCommand)}; fi; r=$?; echo end >> ${reloadCommands}; exit $r`;
      },
    });
    /** Reload commands started and not yet ended (a dead daemon's orphans among them). */
    const reloadCommandsRunning = () => {
      const lines = existsSync(reloadCommands) ? readFileSync(reloadCommands, 'utf8').split('\n') : [];
      return lines.filter((l) => l === 'start').length - lines.filter((l) => l === 'end').length;
    };
    const dir = rig.setup.dir;
    const marker = join(dir, `.${basename(rig.setup.outputPath)}.redishappy-reload-pending`);
    /** Candidate files (`.<output>.redishappy-<pid>-<n>.tmp`) the daemon with that pid left. */
    const candidatesOf = (pid: number | undefined) => readdirSync(dir).filter((f) => f.startsWith(`.${basename(rig.setup.outputPath)}.redishappy-${pid}-`) && f.endsWith('.tmp'));
    // A template whose every generation renders to a file of the same size (256 KiB, so a write is
    // not instantaneous), with an HTTP probe that says which generation the running HAProxy loaded.
    const gen = (g: number) => `GEN${String(g).padStart(4, '0')}`;
    const template = (g: number) =>
      [
        `# ${gen(g)}`,
        'global',
        ` stats socket ${rig.setup.adminSocket} level admin`,
        ' hard-stop-after 5s',
        'defaults',
        ' mode tcp',
        ' timeout client 60s',
        ' timeout connect 1s',
        ' timeout server 60s',
        'listen probe',
        ` bind unix@${probeSocket}`,
        ' mode http',
        ` http-request return status 200 content-type text/plain string ${gen(g)}`,
        '{{range .Clusters}}',
        'frontend ft_{{ .Name }}',
        ' bind 127.0.0.1:{{ .ExternalPort }}',
        ' default_backend bk_{{ .Name }}',
        'backend bk_{{ .Name }}',
        ' server R_{{ .Name }}_1 {{ .Ip }}:{{ .Port }} maxconn 1024 check inter 100ms on-marked-down shutdown-sessions',
        '{{end}}',
        ...Array.from({ length: 4096 }, (_, i) => `# padding ${gen(g)} ${String(i).padStart(6, '0')} ${'x'.repeat(40)}`),
        `# end of ${gen(g)}`,
        '',
      ].join('\n');
    /** The generation the running HAProxy answers with on the probe. */
    const probe = () =>
      new Promise<string>((resolve, reject) => {
        const req = httpGet({ socketPath: probeSocket, path: '/' }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve(body));
          res.on('error', reject);
        });
        req.on('error', reject);
        req.setTimeout(3000, () => req.destroy(new Error('probe: no answer within 3 s')));
      });
    writeFileSync(rig.setup.templatePath, template(0));
    rig.daemon.child.kill('SIGHUP');
    await waitFor(async () => (await probe().catch(() => '')) === gen(0), { timeoutMs: 15000, what: 'generation 0 running' });
    const base = readFileSync(rig.setup.outputPath, 'utf8');
    const text = (g: number) => base.replaceAll(gen(0), gen(g));
    assert.equal(text(1).length, base.length);

    // Read the file whenever the directory says it changed (and after every kill): it must always
    // be a complete generation. A read on each event, not a busy loop: the machine has two cores.
    let allowed = new Set([text(0)]);
    const violations: string[] = [];
    let samples = 0;
    let samplesOnChange = 0;
    const sample = () => {
      try {
        const t = readFileSync(rig.setup.outputPath, 'utf8');
        samples++;
        if (!allowed.has(t)) violations.push(`${t.length} bytes: ${t.slice(0, 12)}…${t.slice(-24)}`);
      } catch (err) {
        violations.push((err as Error).message);
      }
    };
    const output = basename(rig.setup.outputPath);
    const sampler = watch(dir, (_ev, f) => {
      if (f !== output) return;
      samplesOnChange++;
      sample();
    });
    cleanup.add(() => sampler.close());

    // Where each kill lands: targeted at each step of an apply, then at seeded random delays. What
    // each targeted kill left behind proves it landed in the step it names (`proof`, asserted).
    /** What a kill left: the file in place, the pending-reload marker, reloads since the step began, candidates of the dead daemon (and whether one of them is the complete new file). */
    type State = { file: 'old' | 'new'; marker: boolean; reloads: number; candidates: string[]; completeCandidate: boolean };
    const targeted: Array<{ at: string; hold?: 'validation' | 'reload'; when?: (f: string) => boolean; proof: (s: State) => void }> = [
      {
        at: 'right after SIGHUP',
        proof: (s) => {
          assert.equal(s.file, 'old', 'killed right after SIGHUP, yet the new file is in place');
          assert.equal(s.marker, false, 'killed right after SIGHUP, yet a reload was pending');
          assert.equal(s.reloads, 0);
        },
      },
      {
        at: 'candidate written, validating',
        hold: 'validation',
        when: (f) => f === basename(validatingFlag),
        proof: (s) => {
          assert.equal(s.file, 'old', 'killed while validating, yet the new file is in place');
          assert.equal(s.marker, false);
          assert.equal(s.reloads, 0);
          assert.ok(s.completeCandidate, 'the killed daemon left its candidate behind, completely written before validation started');
        },
      },
      {
        at: 'renamed, reload pending',
        hold: 'reload',
        when: (f) => f === basename(rig.setup.outputPath),
        proof: (s) => {
          assert.equal(s.file, 'new', 'killed after the rename, yet the old file is in place');
          assert.equal(s.marker, true, 'killed after the rename: the pending-reload marker must be there');
          assert.equal(s.reloads, 0, 'killed before the reload, yet HAProxy was reloaded');
          assert.equal(s.completeCandidate, false, 'the candidate was renamed into place');
        },
      },
      {
        at: 'reload command done',
        when: (f) => f === basename(rig.setup.reloadLog),
        proof: (s) => {
          assert.equal(s.file, 'new');
          assert.equal(s.reloads, 1, 'killed after the reload command ran');
        },
      },
    ];
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const plan = [...targeted, ...Array.from({ length: 4 }, () => Math.round(random() * 600)).map((ms) => ({ at: `${ms} ms after SIGHUP`, delayMs: ms }))];
    const landed: string[] = [];
    for (const [i, step] of plan.entries()) {
      const g = i + 1;
      allowed = new Set([text(g - 1), text(g)]);
      writeFileSync(rig.setup.templatePath, template(g));
      writeFileSync(expected, text(g));
      const reloadsBefore = rig.reloads();
      const d = rig.daemon;
      const hold = 'hold' in step ? step.hold : undefined;
      if (hold) writeFileSync(hold === 'validation' ? holdValidation : holdReload, '');
      if ('when' in step && step.when) {
        const when = step.when;
        const w = watch(dir, (_ev, f) => {
          if (f && when(f)) {
            d.child.kill('SIGKILL');
            w.close();
          }
        });
        cleanup.add(() => w.close());
        d.child.kill('SIGHUP');
        await waitFor(() => d.child.exitCode !== null || d.child.signalCode !== null, { timeoutMs: 10000, what: `kill at "${step.at}"` });
      } else {
        d.child.kill('SIGHUP');
        if ('delayMs' in step) await sleep(step.delayMs);
        d.child.kill('SIGKILL');
      }
      await d.exited;
      assert.equal(d.child.signalCode, 'SIGKILL', `the daemon was alive until the kill at "${step.at}"`);
      // The dead daemon's commands see it gone and end; only then are its reloads all counted.
      await waitFor(() => reloadCommandsRunning() === 0, { timeoutMs: 25000, what: `the reload commands of the daemon killed at "${step.at}" to end` });
      for (const f of [holdValidation, holdReload]) rmSync(f, { force: true });
      sample();
      const candidates = candidatesOf(d.child.pid);
      const state: State = {
        file: readFileSync(rig.setup.outputPath, 'utf8') === text(g) ? 'new' : 'old',
        marker: existsSync(marker),
        reloads: rig.reloads() - reloadsBefore,
        candidates,
        completeCandidate: candidates.some((f) => readFileSync(join(dir, f), 'utf8') === text(g)),
      };
      if (state.file === 'old') assert.equal(readFileSync(rig.setup.outputPath, 'utf8'), text(g - 1));
      if ('proof' in step) step.proof(state);
      const where = state.reloads > 0 ? 'after the reload' : state.file === 'new' ? 'after the rename, reload pending' : state.marker ? 'validated, marker written, before the rename' : state.completeCandidate ? 'candidate written, validating' : 'before the candidate was complete';
      landed.push(`${step.at}: landed ${where} (${state.file} file, marker ${state.marker}, ${state.reloads} reload(s), ${state.candidates.length} candidate(s))`);
      await rig.startDaemon();
      await waitFor(async () => readFileSync(rig.setup.outputPath, 'utf8') === text(g) && (await probe().catch(() => '')) === gen(g), {
        timeoutMs: 20000,
        what: `after the kill at "${step.at}", the restarted daemon has HAProxy running generation ${g}`,
      });
      // The kill left a reload owed (also when it landed after the reload command, before the
      // marker was removed): the restart reloads and removes the marker, though HAProxy may already
      // run generation g (then the wait above was over at once).
      if (state.marker) await waitFor(() => !existsSync(marker), { timeoutMs: 10000, what: `after the kill at "${step.at}", the restart finished the owed reload` });
      // A kill before the reload: the orphaned reload command gave up (its daemon was gone) and only the restart reloaded.
      if (state.reloads === 0 && state.file === 'new') {
        assert.equal(state.marker, true, 'the new file in place without a pending-reload marker');
        assert.equal(rig.reloads() - reloadsBefore, 1, `after the kill at "${step.at}": one reload, by the restart`);
      }
    }
    sampler.close();
    const leftovers = readdirSync(dir).filter((f) => f.endsWith('.tmp'));
    console.log(`chaos-detail scenario=daemon-kill-mid-apply kills=${plan.length} file_samples=${samples} (on change ${samplesOnChange}) partial_or_missing=${violations.length} leftover_candidates=${leftovers.length}`);
    for (const l of landed) console.log(`chaos-detail   kill ${l}`);
    assert.deepEqual(violations.slice(0, 5), [], 'a partial, missing or unexpected file was visible');
    // Each step puts a new file in place (by the killed daemon or the restarted one): each was read as it changed.
    assert.ok(samplesOnChange >= plan.length, `the file was read on ${samplesOnChange} changes in ${plan.length} steps`);
    assert.ok(!existsSync(`${dir}/.haproxy.cfg.redishappy-reload-pending`), 'no reload left owed');
  });
});
