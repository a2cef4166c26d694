import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildCommand } from '../../src/cli/args.js';
import { FLAGS, TITLES, manPage } from '../../src/cli/manual.js';

/** --help and the man pages come from one source: every flag --help lists is in the man page. */
describe('man pages and --help', () => {
  for (const flavour of ['auto', 'haproxy', 'consul'] as const) {
    it(`${flavour}: every flag of --help is in the man page, with its description`, () => {
      const help = buildCommand(flavour, '9.9.9').helpInformation();
      const flags = [...help.matchAll(/^ {2}(-\w, )?(--[\w-]+)/gm)].map((m) => m[2]!);
      assert.deepEqual(flags.sort(), FLAGS.map((f) => `--${f.long}`).sort());
      const page = manPage(flavour, '9.9.9', '2026-01-01').replace(/\\-/g, '-');
      for (const f of flags) assert.match(page, new RegExp(`^\\.B (-\\w, )?${f}\\b`, 'm'), f);
      for (const section of ['NAME', 'SYNOPSIS', 'OPTIONS', 'ENVIRONMENT', 'FILES', 'SIGNALS', 'EXIT STATUS', 'EXAMPLES']) assert.match(page, new RegExp(`^\\.SH ${section}$`, 'm'));
      for (const f of FLAGS) assert.ok(page.includes(f.help.slice(1, 30).replace(/\\/g, '\\e')), `description of --${f.long}`);
    });
  }

  it('each page lists only the variables its executable reads: no REDISHAPPY_HAPROXY_* for Consul', () => {
    for (const flavour of ['auto', 'haproxy', 'consul'] as const) {
      const help = buildCommand(flavour, '9.9.9').helpInformation() + buildCommandHelpAfter(flavour);
      const page = manPage(flavour, '9.9.9', '2026-01-01').replace(/\\-/g, '-');
      for (const text of [help, page]) {
        for (const v of ['REDISHAPPY_CLUSTERS', 'REDISHAPPY_SENTINELS', 'REDISHAPPY_LOG_LEVEL']) assert.ok(text.includes(v), `${flavour}: ${v}`);
        assert.equal(text.includes('REDISHAPPY_HAPROXY_TEMPLATE_PATH'), flavour !== 'consul', `${flavour}: REDISHAPPY_HAPROXY_*`);
      }
    }
  });

  it('names every kind of output: HAProxy, Consul, Templates and the hooks', () => {
    assert.match(TITLES.auto.summary, /HAProxy, Consul, Templates, Exec and Webhook/);
    for (const flavour of ['auto', 'haproxy', 'consul'] as const) {
      const page = manPage(flavour, '9.9.9', '2026-01-01');
      assert.match(page, /template outputs \(Templates: nginx, files for scripts\) and the hooks \(Exec, Webhook\)/);
      // Each paragraph of the description is one .PP, never a line broken by hand.
      assert.match(page, /^\.PP\nEvery executable also runs/m);
    }
  });
});

/** The text --help prints after the options (commander adds it at output time). */
function buildCommandHelpAfter(flavour: 'auto' | 'haproxy' | 'consul'): string {
  let out = '';
  const cmd = buildCommand(flavour, '9.9.9').configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  try {
    cmd.parse(['--help'], { from: 'user' });
  } catch {
    // exitOverride: --help throws after writing.
  }
  return out;
}
