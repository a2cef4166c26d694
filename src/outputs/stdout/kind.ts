import { z } from 'zod';
import { EVERY_FLAVOUR } from '../../config/flavour.js';
import { issuesToProblems } from '../../config/problems.js';
import type { OutputKind } from '../kind.js';
import type { OutputStatus } from '../types.js';

/** Scratch kind (proof that a kind is one file + one registry line): logs each confirmed master change. */
const schema = z.object({ Prefix: z.string({ error: 'must be a string' }).default('master') });
type StdoutSection = z.infer<typeof schema>;

export const stdoutKind: OutputKind<'Stdout', StdoutSection> = {
  kind: 'stdout',
  section: 'Stdout',
  schema,
  flavours: EVERY_FLAVOUR,
  fixedNames: ['stdout'],
  manual: { group: 'the console output', note: 'a line per change' },
  validate: (raw) => {
    if (raw === undefined || raw === null) return {};
    const parsed = schema.safeParse(raw);
    return parsed.success ? { value: parsed.data } : { problems: issuesToProblems(parsed.error.issues, ['Stdout']) };
  },
  describe: (s) => [{ name: 'stdout', kind: 'stdout', detail: `logs "${s.Prefix} <cluster> <ip:port>"` }],
  create: (s, ctx) => {
    const status: OutputStatus = { name: 'stdout', lastAppliedAt: null, appliedVersion: null, lastError: null, lastErrorAt: null };
    const log = ctx.logger.child({ output: 'stdout' });
    return [{
      name: 'stdout',
      apply: async (snapshot, changes) => {
        for (const c of changes) log.info(`${s.Prefix} ${c.cluster} ${c.current.ip}:${c.current.port}`);
        status.lastAppliedAt = new Date().toISOString();
        status.appliedVersion = snapshot.version;
      },
      status: () => status,
      close: async () => {},
    }];
  },
};
