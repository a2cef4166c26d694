import type { Flavour } from '../../config/flavour.js';
import { issuesToProblems } from '../../config/problems.js';
import type { OutputKind, SectionResult } from '../kind.js';
import { checkConsulSection, consulSectionSchema, type ConsulSection } from './config.js';
import { createConsulOutput } from './output.js';

function validate(raw: unknown, flavour: Flavour, clusterNames: readonly string[]): SectionResult<ConsulSection> {
  // The umbrella runs Consul only when the section is written; redishappy-consul works with the defaults (local agent).
  if (raw === undefined && flavour === 'auto') return {};
  const parsed = consulSectionSchema.safeParse(raw ?? {});
  if (!parsed.success) return { problems: issuesToProblems(parsed.error.issues, ['Consul']) };
  const checked = checkConsulSection(parsed.data, clusterNames);
  return { value: parsed.data, problems: checked.errors, warnings: checked.warnings };
}

export const consulKind: OutputKind<'Consul', ConsulSection> = {
  kind: 'consul',
  section: 'Consul',
  schema: consulSectionSchema,
  flavours: ['consul', 'auto'],
  fixedNames: ['consul'],
  validate: (raw, ctx) => validate(raw, ctx.flavour, ctx.clusterNames),
  describe: (c) => [{ name: 'consul', kind: 'consul', detail: `${c.Mode} mode, ${c.Address}` }],
  create: (config, ctx) => [createConsulOutput({ config, clusterNames: ctx.clusterNames, logger: ctx.logger.child({ output: 'consul' }), sentinelsHealthy: ctx.sentinelsHealthy })],
};
