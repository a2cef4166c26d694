import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { DESCRIPTION, TITLES, everyExecutableRuns } from '../../src/cli/manual.js';
import { EVERY_FLAVOUR } from '../../src/config/flavour.js';
import { parseConfigText } from '../../src/config/load.js';
import { OUTPUT_KINDS } from '../../src/outputs/kinds.js';
import type { OutputKind } from '../../src/outputs/kind.js';

/** A kind as a new one would be written: the man page names it from its descriptor alone. */
const stdoutKind: OutputKind<'Stdout', boolean> = {
  kind: 'stdout',
  section: 'Stdout',
  schema: z.boolean(),
  flavours: EVERY_FLAVOUR,
  fixedNames: ['stdout'],
  manual: { group: 'the console output', note: 'a line per change' },
  validate: () => ({}),
  describe: () => [],
  create: () => [],
};

describe('output kinds registry', () => {
  it('one section and one set of output names per kind', () => {
    const sections = OUTPUT_KINDS.map((k) => k.section.toLowerCase());
    assert.equal(new Set(sections).size, sections.length);
    const names = OUTPUT_KINDS.flatMap((k) => k.fixedNames);
    assert.equal(new Set(names).size, names.length);
  });

  it('the man page and --help name the sections and the kinds every executable runs, from the registry', () => {
    assert.match(TITLES.auto.summary, /\(HAProxy, Consul, Templates, Exec and Webhook sections\)/);
    assert.match(DESCRIPTION, /Every executable also runs the template outputs \(Templates: nginx, files for scripts\) and the hooks \(Exec, Webhook\) found in the configuration/);
    assert.equal(everyExecutableRuns([...OUTPUT_KINDS, stdoutKind]), 'the template outputs (Templates: nginx, files for scripts), the hooks (Exec, Webhook) and the console output (Stdout: a line per change)');
  });

  it('a Templates entry may not take a name another kind always uses (any case)', () => {
    const base = { Clusters: [{ Name: 'a', ExternalPort: 6379 }], Sentinels: [{ Host: 'h', Port: 26379 }] };
    for (const name of ['haproxy', 'Consul', 'EXEC', 'webhook']) {
      const text = JSON.stringify({ ...base, Templates: [{ Name: name, TemplatePath: '/nonexistent/t', OutputPath: '/nonexistent/o' }] });
      assert.throws(
        () => parseConfigText(text, 'c.json', {}, 'auto'),
        (err: { problems: string[] }) => {
          // Only the name: the entry is refused, so its template file is not looked at.
          assert.deepEqual(err.problems, ['Templates[0].Name: must not be one of haproxy, consul, exec, webhook']);
          return true;
        },
      );
    }
  });
});
