import { resolve } from 'node:path';
import type { Flavour } from '../../config/flavour.js';
import { issuesToProblems } from '../../config/problems.js';
import { checkTemplateFile } from '../file/check-template-file.js';
import type { OutputKind, SectionResult } from '../kind.js';
import { haproxySectionSchema, type HaproxySection } from './config.js';
import { createHaproxyOutput } from './output.js';
import { verifyPortProblems } from '../verify-fields.js';

function validate(raw: unknown, flavour: Flavour, clusterNames: readonly string[]): SectionResult<HaproxySection> {
  // The umbrella runs HAProxy only when the section is written; redishappy-haproxy needs it.
  if (raw === undefined && flavour === 'auto') return {};
  if (raw === undefined || raw === null) return { problems: ['HAProxy: section is required for redishappy-haproxy (TemplatePath, OutputPath, ReloadCommand)'] };
  const parsed = haproxySectionSchema.safeParse(raw);
  if (!parsed.success) return { problems: issuesToProblems(parsed.error.issues, ['HAProxy']) };
  const problems = checkTemplateFile(parsed.data.TemplatePath, 'HAProxy.TemplatePath');
  if (resolve(parsed.data.OutputPath) === resolve(parsed.data.TemplatePath)) problems.push(`HAProxy.OutputPath: ${parsed.data.OutputPath} is HAProxy.TemplatePath (writing it would overwrite the template)`);
  problems.push(...verifyPortProblems(parsed.data.Verify, clusterNames, 'HAProxy'));
  return { value: parsed.data, problems };
}

export const haproxyKind: OutputKind<'HAProxy', HaproxySection> = {
  kind: 'haproxy',
  section: 'HAProxy',
  schema: haproxySectionSchema,
  flavours: ['haproxy', 'auto'],
  fixedNames: ['haproxy'],
  validate: (raw, ctx) => validate(raw, ctx.flavour, ctx.clusterNames),
  describe: (h) => [{ name: 'haproxy', kind: 'haproxy', detail: `writes ${h.OutputPath}, reloads with ${JSON.stringify(h.ReloadCommand)}${h.RuntimeSocket ? `, switches live through ${h.RuntimeSocket}` : ''}` }],
  create: (config, ctx) => [createHaproxyOutput({ config, logger: ctx.logger.child({ output: 'haproxy' }), clusterNames: ctx.clusterNames })],
};
