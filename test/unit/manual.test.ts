import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { buildCommand } from '../../src/cli/args.js';
import { FLAGS, manPage } from '../../src/cli/manual.js';

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
});
