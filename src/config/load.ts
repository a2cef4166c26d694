import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { canonicalize, formatPath } from './canonicalize.js';
import { applyEnvOverrides } from './env.js';
import { canonicalShape, configSchema, type BaseConfig } from './schema.js';
import { haproxySectionSchema, type HaproxySection } from '../outputs/haproxy/config.js';
import { checkConsulSection, consulSectionSchema, type ConsulSection } from '../outputs/consul/config.js';
import { joinHostPort } from './address.js';
import { execSectionSchema, webhookSectionSchema, type ExecHook, type WebhookHook } from '../outputs/hooks/config.js';
import { checkTemplatesSection, templateOutputSchema, templatesSectionSchema, type TemplateOutputConfig } from '../outputs/template/config.js';
import { jsonErrorOffset, lineAndColumn } from './json-position.js';
import { parseTemplate, TemplateError } from '../template/index.js';

/** Which outputs the running executable drives. `auto` enables those whose section is present. */
export type Flavour = 'haproxy' | 'consul' | 'auto';

export interface Config extends Omit<BaseConfig, 'HAProxy' | 'Consul' | 'Exec' | 'Webhook' | 'Templates'> {
  HAProxy?: HaproxySection;
  Consul?: ConsulSection;
  Exec?: ExecHook[];
  Webhook?: WebhookHook[];
  /** Template outputs; they work with every executable. */
  Templates?: TemplateOutputConfig[];
}

export interface LoadedConfig {
  config: Config;
  /** Non-fatal remarks: unknown keys, env overrides used, suspicious values. */
  warnings: string[];
  notes: string[];
}

/**
 * Every problem found, each naming the field or variable; thrown instead of a partial config.
 * `warnings` are those found on the way (an unknown key is often the typo behind a problem).
 */
export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
    readonly warnings: string[] = [],
  ) {
    super(`${source}: configuration is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function issuesToProblems(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] {
  return issues.map((issue) => {
    const path = formatPath([...prefix, ...issue.path]);
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}

/** JSON.parse's message plus the line and column people can find in an editor. */
function jsonErrorMessage(text: string, err: Error): string {
  const offset = jsonErrorOffset(text);
  const { line, column } = lineAndColumn(text, offset);
  const near = text.slice(offset, offset + 20).split('\n')[0];
  const what = err.message.replace(/, (\.\.\.)?"[\s\S]*$/, '').replace(/ in JSON at position \d+[\s\S]*$/, '');
  return `${what} at line ${line}, column ${column}${near ? ` (near ${JSON.stringify(near)})` : ' (unexpected end of file)'}`;
}

export function parseConfigText(text: string, source: string, env: NodeJS.ProcessEnv, flavour: Flavour): LoadedConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(source, [`invalid JSON: ${jsonErrorMessage(text, err as Error)}`]);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, ['the file must contain a JSON object ({ "Clusters": [...], "Sentinels": [...] })']);
  }

  const { value, unknownKeys, didYouMean } = canonicalize(raw, canonicalShape);
  const canonical = value as Record<string, unknown>;
  const warnings = unknownKeys.map((k) => `unknown key ${k} ignored${didYouMean.has(k) ? ` (did you mean ${didYouMean.get(k)}?)` : ''}`);
  const { problems, notes } = applyEnvOverrides(canonical, env);

  const base = configSchema.safeParse(canonical);
  if (!base.success) problems.push(...issuesToProblems(base.error.issues));

  const config: Config | undefined = base.success ? { ...base.data, HAProxy: undefined, Consul: undefined, Exec: undefined, Webhook: undefined, Templates: undefined } : undefined;
  const names = base.success ? base.data.Clusters.map((c) => c.Name) : [];

  // Hooks work with every executable.
  for (const [key, schema] of [['Exec', execSectionSchema], ['Webhook', webhookSectionSchema]] as const) {
    if (canonical[key] === undefined || canonical[key] === null) continue;
    const parsed = schema.safeParse(canonical[key]);
    if (!parsed.success) {
      problems.push(...issuesToProblems(parsed.error.issues, [key]));
      continue;
    }
    parsed.data.forEach((hook, i) =>
      (hook.Clusters ?? []).forEach((c, j) => {
        if (!names.includes(c)) warnings.push(`${key}[${i}].Clusters[${j}]: "${c}" is not a configured cluster`);
      }),
    );
    if (config) (config as unknown as Record<string, unknown>)[key] = parsed.data;
  }

  // Sections: validated when the flavour needs them or (auto) when present.
  const wantHaproxy = flavour === 'haproxy' || (flavour === 'auto' && canonical.HAProxy !== undefined);
  if (wantHaproxy) {
    if (canonical.HAProxy === undefined || canonical.HAProxy === null) {
      problems.push('HAProxy: section is required for redishappy-haproxy (TemplatePath, OutputPath, ReloadCommand)');
    } else {
      const parsed = haproxySectionSchema.safeParse(canonical.HAProxy);
      if (!parsed.success) problems.push(...issuesToProblems(parsed.error.issues, ['HAProxy']));
      else {
        if (config) config.HAProxy = parsed.data;
        problems.push(...checkTemplateFile(parsed.data.TemplatePath, 'HAProxy.TemplatePath'));
        if (resolve(parsed.data.OutputPath) === resolve(parsed.data.TemplatePath)) problems.push(`HAProxy.OutputPath: ${parsed.data.OutputPath} is HAProxy.TemplatePath (writing it would overwrite the template)`);
      }
    }
  }
  const wantConsul = flavour === 'consul' || (flavour === 'auto' && canonical.Consul !== undefined);
  if (wantConsul) {
    const parsed = consulSectionSchema.safeParse(canonical.Consul ?? {});
    if (!parsed.success) problems.push(...issuesToProblems(parsed.error.issues, ['Consul']));
    else {
      if (config) config.Consul = parsed.data;
      const checked = checkConsulSection(parsed.data, names);
      problems.push(...checked.errors);
      warnings.push(...checked.warnings);
    }
  }

  // Template outputs work with every executable, like the hooks.
  if (canonical.Templates !== undefined && canonical.Templates !== null) {
    if (!Array.isArray(canonical.Templates)) {
      const parsed = templatesSectionSchema.safeParse(canonical.Templates);
      if (!parsed.success) problems.push(...issuesToProblems(parsed.error.issues, ['Templates']));
    } else {
      // Each entry on its own: one refused entry does not hide the problems of the others
      // (cross-entry checks and template files), so every problem is reported at once.
      const entries = canonical.Templates.map((entry: unknown, i) => {
        const parsed = templateOutputSchema.safeParse(entry);
        if (parsed.success) return parsed.data;
        problems.push(...issuesToProblems(parsed.error.issues, ['Templates', i]));
        return undefined;
      });
      problems.push(...checkTemplatesSection(entries, config?.HAProxy));
      entries.forEach((t, i) => {
        if (t) problems.push(...checkTemplateFile(t.TemplatePath, `Templates[${i}].TemplatePath`));
      });
      const valid = entries.filter((t): t is TemplateOutputConfig => t !== undefined);
      if (config && valid.length === entries.length) config.Templates = valid;
    }
  }

  if (config) {
    problems.push(...crossChecks(config, warnings));
  }
  if (problems.length > 0 || !config) throw new ConfigError(source, problems, warnings);
  return { config, warnings, notes };
}

function checkTemplateFile(path: string, field: string): string[] {
  try {
    if (!statSync(path).isFile()) return [`${field}: ${path} is not a file`];
    parseTemplate(readFileSync(path, 'utf8'), path);
    return [];
  } catch (err) {
    if (err instanceof TemplateError) return [`${field}: template does not parse: ${err.message}`];
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return [`${field}: template file ${path} does not exist`];
    return [`${field}: cannot read template file ${path} (${code ?? String(err)})`];
  }
}

function crossChecks(config: Config, warnings: string[]): string[] {
  const problems: string[] = [];
  const seenNames = new Map<string, number>();
  config.Clusters.forEach((c, i) => {
    const prev = seenNames.get(c.Name);
    if (prev !== undefined) problems.push(`Clusters[${i}].Name: duplicate cluster name "${c.Name}" (also Clusters[${prev}])`);
    else seenNames.set(c.Name, i);
    if (/\s/.test(c.Name)) problems.push(`Clusters[${i}].Name: "${c.Name}" contains white space; Sentinel master names cannot`);
  });
  const seenPorts = new Map<number, number>();
  config.Clusters.forEach((c, i) => {
    const prev = seenPorts.get(c.ExternalPort);
    if (prev !== undefined) warnings.push(`Clusters[${i}].ExternalPort: ${c.ExternalPort} is also used by Clusters[${prev}]`);
    else seenPorts.set(c.ExternalPort, i);
  });
  const seenSentinels = new Map<string, number>();
  config.Sentinels.forEach((s, i) => {
    const key = joinHostPort(s.Host, s.Port);
    const prev = seenSentinels.get(key);
    if (prev !== undefined) problems.push(`Sentinels[${i}]: duplicate sentinel ${key} (also Sentinels[${prev}])`);
    else seenSentinels.set(key, i);
  });
  if (config.Watcher.ReconnectMinMs > config.Watcher.ReconnectMaxMs) {
    problems.push('Watcher.ReconnectMinMs: must not be larger than Watcher.ReconnectMaxMs');
  }
  return problems;
}

export function loadConfigFile(path: string, env: NodeJS.ProcessEnv, flavour: Flavour): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'file not found' : code === 'EACCES' ? 'permission denied' : String((err as Error).message);
    throw new ConfigError(path, [`cannot open config file: ${why}`]);
  }
  return parseConfigText(text, path, env, flavour);
}
