import type { z } from 'zod';
import { issuesToProblems } from '../../config/problems.js';
import { EVERY_FLAVOUR } from '../../config/flavour.js';
import type { OutputKind, SectionContext, SectionResult } from '../kind.js';
import type { Output } from '../types.js';
import { execSectionSchema, webhookSectionSchema, type ExecHook, type WebhookHook } from './config.js';
import { createExecOutput, createWebhookOutput, type HookOutputOptions } from './output.js';

/** Both hook sections: a list whose entries may name clusters; a name that is not configured is only a warning (it may come later). */
function validateHooks<Hook extends { Clusters?: string[] }>(section: string, schema: z.ZodType<Hook[]>, raw: unknown, ctx: SectionContext): SectionResult<Hook[]> {
  if (raw === undefined || raw === null) return {};
  const parsed = schema.safeParse(raw);
  if (!parsed.success) return { problems: issuesToProblems(parsed.error.issues, [section]) };
  const warnings: string[] = [];
  parsed.data.forEach((hook, i) =>
    (hook.Clusters ?? []).forEach((c, j) => {
      if (!ctx.clusterNames.includes(c)) warnings.push(`${section}[${i}].Clusters[${j}]: "${c}" is not a configured cluster`);
    }),
  );
  return { value: parsed.data, warnings };
}

/** One output for the whole list (an empty list runs none), named like the section in lower case. */
function hookKind<Section extends string, Hook extends { Clusters?: string[] }>(
  section: Section,
  schema: z.ZodType<Hook[]>,
  unit: string,
  make: (hooks: Hook[], opts: HookOutputOptions) => Output,
): OutputKind<Section, Hook[]> {
  const name = section.toLowerCase();
  return {
    kind: name,
    section,
    schema,
    flavours: EVERY_FLAVOUR,
    fixedNames: [name],
    manual: { group: 'the hooks' },
    validate: (raw, ctx) => validateHooks(section, schema, raw, ctx),
    describe: (hooks) => (hooks.length ? [{ name, kind: name, detail: `${hooks.length} ${unit}` }] : []),
    create: (hooks, ctx) => (hooks.length ? [make(hooks, { logger: ctx.logger.child({ output: name }) })] : []),
  };
}

export const execKind = hookKind<'Exec', ExecHook>('Exec', execSectionSchema, 'command(s)', createExecOutput);
export const webhookKind = hookKind<'Webhook', WebhookHook>('Webhook', webhookSectionSchema, 'URL(s)', createWebhookOutput);
