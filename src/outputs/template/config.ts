import { resolve } from 'node:path';
import { z } from 'zod';
import { validateCacheFields } from '../file/config.js';
import { proxyVerifyFields } from '../verify-fields.js';

/**
 * The `Templates` section: a list of template outputs (nginx, a second HAProxy, a plain file for
 * scripts...), each rendered, validated, installed and reloaded like the HAProxy output.
 */

const requiredString = z
  .string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a non-empty string') })
  .refine((s) => s.trim() !== '', 'must be a non-empty string');

export const timeoutMs = (def: number) =>
  z
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(1, 'must be at least 1')
    .max(600_000, 'must be at most 600000 (10 minutes)')
    .default(def);

export const settleMs = z.number({ error: 'must be a number of milliseconds' }).int('must be a whole number').min(0, 'must be 0 or more').max(60_000, 'must be at most 60000').default(0);

export const templateOutputSchema = z.object({
  /** Names this output in logs, metrics (output label) and the API. */
  Name: z
    .string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') })
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit'),
  /** Go text/template rendered with the confirmed topology. */
  TemplatePath: requiredString,
  /** The file written from the template. Need not exist at start-up. */
  OutputPath: requiredString,
  /** Checks a candidate before it replaces OutputPath; `{file}` is the candidate's (shell-quoted) path. "" (default) = no check. */
  ValidateCommand: z.string({ error: 'must be a string' }).default(''),
  /** Run with /bin/sh -c after a new file is in place. "" (default) = only write the file. */
  ReloadCommand: z.string({ error: 'must be a string' }).default(''),
  ValidateTimeoutMs: timeoutMs(10_000),
  ReloadTimeoutMs: timeoutMs(10_000),
  ReloadSettleMs: settleMs,
  ...validateCacheFields,
  ...proxyVerifyFields,
});

export const templatesSectionSchema = z.array(templateOutputSchema, { error: 'must be a list of template outputs' });

export type TemplateOutputConfig = z.infer<typeof templateOutputSchema>;

/**
 * A Name taken by another kind's output (metrics and the API key on names). Not in the schema: the
 * names come from the registry of kinds, which imports this file. Checked on the raw entry, before
 * the schema, so it is listed first among the entry's problems as the schema's own Name check would be.
 */
export function reservedNameProblem(entry: unknown, index: number, reserved: readonly string[]): string | undefined {
  if (entry === null || typeof entry !== 'object') return undefined;
  const name = (entry as { Name?: unknown }).Name;
  if (typeof name !== 'string' || !reserved.includes(name.toLowerCase())) return undefined;
  return `Templates[${index}].Name: must not be one of ${reserved.join(', ')}`;
}

/** The fields the cross-entry checks look at. */
export type TemplatePaths = Pick<TemplateOutputConfig, 'Name' | 'TemplatePath' | 'OutputPath'>;

/**
 * Cross-entry checks: names unique (case-insensitively), no two outputs writing the same file, and
 * no output writing over a template (its own, another entry's or HAProxy's). Paths are compared
 * resolved (`./a` and `a` are one file). `undefined` entries (refused by the schema) are skipped,
 * so the others are still checked and keep their indexes.
 */
export function checkTemplatesSection(list: ReadonlyArray<TemplatePaths | undefined>, haproxy?: { OutputPath: string; TemplatePath: string }): string[] {
  const problems: string[] = [];
  const names = new Map<string, number>();
  const paths = new Map<string, number>();
  const templates = new Map<string, string>();
  if (haproxy) templates.set(resolve(haproxy.TemplatePath), 'HAProxy.TemplatePath');
  list.forEach((t, i) => {
    if (t && !templates.has(resolve(t.TemplatePath))) templates.set(resolve(t.TemplatePath), `Templates[${i}].TemplatePath`);
  });
  list.forEach((t, i) => {
    if (!t) return;
    const prev = names.get(t.Name.toLowerCase());
    if (prev !== undefined) problems.push(`Templates[${i}].Name: "${t.Name}" is already used by Templates[${prev}] (names are compared without case)`);
    else names.set(t.Name.toLowerCase(), i);
    const out = resolve(t.OutputPath);
    const p = paths.get(out);
    if (p !== undefined) problems.push(`Templates[${i}].OutputPath: ${t.OutputPath} is also written by Templates[${p}]`);
    else paths.set(out, i);
    if (haproxy && out === resolve(haproxy.OutputPath)) problems.push(`Templates[${i}].OutputPath: ${t.OutputPath} is also written by HAProxy.OutputPath`);
    if (out === resolve(t.TemplatePath)) problems.push(`Templates[${i}].OutputPath: ${t.OutputPath} is its own TemplatePath (writing it would overwrite the template)`);
    else {
      const tpl = templates.get(out);
      if (tpl !== undefined) problems.push(`Templates[${i}].OutputPath: ${t.OutputPath} is ${tpl} (writing it would overwrite that template)`);
    }
  });
  if (haproxy) {
    const out = resolve(haproxy.OutputPath);
    const tpl = list.findIndex((t) => t !== undefined && resolve(t.TemplatePath) === out);
    if (tpl >= 0) problems.push(`HAProxy.OutputPath: ${haproxy.OutputPath} is Templates[${tpl}].TemplatePath (writing it would overwrite that template)`);
  }
  return problems;
}
