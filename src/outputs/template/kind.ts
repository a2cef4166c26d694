import { issuesToProblems } from '../../config/problems.js';
import { checkTemplateFile } from '../file/check-template-file.js';
import type { OutputKind, SectionContext, SectionResult } from '../kind.js';
import { EVERY_FLAVOUR } from '../../config/flavour.js';
import { checkTemplatesSection, reservedNameProblem, templateOutputSchema, templatesSectionSchema, type TemplateOutputConfig } from './config.js';
import { createTemplateOutput } from './output.js';
import { verifyPortProblems } from '../verify-fields.js';

/** The HAProxy section's files, when it was validated first: a template output may not write over them. */
type HaproxyFiles = { OutputPath: string; TemplatePath: string } | undefined;

function validate(raw: unknown, ctx: SectionContext): SectionResult<TemplateOutputConfig[]> {
  if (raw === undefined || raw === null) return {};
  if (!Array.isArray(raw)) {
    const parsed = templatesSectionSchema.safeParse(raw);
    return parsed.success ? {} : { problems: issuesToProblems(parsed.error.issues, ['Templates']) };
  }
  // Each entry on its own: one refused entry does not hide the problems of the others
  // (cross-entry checks and template files), so every problem is reported at once.
  const problems: string[] = [];
  const entries = raw.map((entry: unknown, i) => {
    const reserved = reservedNameProblem(entry, i, ctx.reservedNames);
    if (reserved) problems.push(reserved);
    const parsed = templateOutputSchema.safeParse(entry);
    if (!parsed.success) problems.push(...issuesToProblems(parsed.error.issues, ['Templates', i]));
    return parsed.success && !reserved ? parsed.data : undefined;
  });
  problems.push(...checkTemplatesSection(entries, ctx.sections.HAProxy as HaproxyFiles));
  entries.forEach((t, i) => {
    if (t) problems.push(...checkTemplateFile(t.TemplatePath, `Templates[${i}].TemplatePath`), ...verifyPortProblems(t.Verify, ctx.clusterNames, `Templates[${i}]`));
  });
  const valid = entries.filter((t): t is TemplateOutputConfig => t !== undefined);
  return { value: valid.length === entries.length ? valid : undefined, problems };
}

function detail(t: TemplateOutputConfig): string {
  return `writes ${t.OutputPath}${t.ValidateCommand ? `, validates with ${JSON.stringify(t.ValidateCommand)}` : ''}${t.ReloadCommand ? `, reloads with ${JSON.stringify(t.ReloadCommand)}` : ''}`;
}

export const templateKind: OutputKind<'Templates', TemplateOutputConfig[]> = {
  kind: 'template',
  section: 'Templates',
  schema: templatesSectionSchema,
  flavours: EVERY_FLAVOUR,
  fixedNames: [],
  manual: { group: 'the template outputs', note: 'nginx, files for scripts' },
  validate,
  describe: (list) => list.map((t) => ({ name: t.Name, kind: 'template', detail: detail(t) })),
  // Each entry gets its own runner, so one that fails (bad template, refused by its validator) never holds up the others.
  create: (list, ctx) => list.map((t, index) => createTemplateOutput({ config: t, index, logger: ctx.logger.child({ output: t.Name }), clusterNames: ctx.clusterNames })),
};
