import { readFileSync } from 'node:fs';
import { canonicalize } from './canonicalize.js';
import { applyEnvOverrides } from './env.js';
import { canonicalShape, configSchema, type BaseConfig } from './schema.js';
import { joinHostPort } from './address.js';
import { jsonErrorOffset, lineAndColumn } from './json-position.js';
import { issuesToProblems } from './problems.js';
import type { Flavour } from './flavour.js';
import { kindsFor, OUTPUT_KINDS, type OutputSections } from '../outputs/kinds.js';

export type { Flavour } from './flavour.js';

/** The base settings plus the validated section of every output kind the executable runs. */
export type Config = BaseConfig & OutputSections;

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

  const config: Config | undefined = base.success ? { ...base.data } : undefined;
  const clusterNames = base.success ? base.data.Clusters.map((c) => c.Name) : [];
  const checked = validateSections(canonical, flavour, clusterNames, config !== undefined);
  problems.push(...checked.problems);
  warnings.push(...checked.warnings);
  if (config) Object.assign(config, checked.sections);

  if (config) {
    problems.push(...crossChecks(config, warnings));
  }
  if (problems.length > 0 || !config) throw new ConfigError(source, problems, warnings);
  return { config, warnings, notes };
}

/** Every output kind the executable runs, in registry order: their values by section, problems and warnings. */
function validateSections(canonical: Record<string, unknown>, flavour: Flavour, clusterNames: readonly string[], baseValid: boolean) {
  const reservedNames = OUTPUT_KINDS.flatMap((k) => k.fixedNames);
  const sections: Record<string, unknown> = {};
  const problems: string[] = [];
  const warnings: string[] = [];
  for (const kind of kindsFor(flavour)) {
    const result = kind.validate(canonical[kind.section], { flavour, clusterNames, sections, reservedNames });
    problems.push(...(result.problems ?? []));
    warnings.push(...(result.warnings ?? []));
    // With an invalid base the file is refused anyway: cross-section checks (Templates against
    // HAProxy) would only add guesses to the real problems, so later kinds see no sections then.
    if (baseValid && result.value !== undefined) sections[kind.section] = result.value;
  }
  return { sections, problems, warnings };
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
  problems.push(...readPortProblems(config.Clusters));
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

/**
 * A read port must be a port of its own: sharing one with any cluster's write port (its own
 * included) or another read port would mix replicas into a master's traffic, or two clusters.
 * Two write ports may be equal (the original allowed it: only a warning above).
 */
export function readPortProblems(clusters: ReadonlyArray<{ Name: string; ExternalPort: number; ExternalReadPort?: number | undefined }>): string[] {
  const problems: string[] = [];
  clusters.forEach((c, i) => {
    if (c.ExternalReadPort === undefined) return;
    clusters.forEach((o, j) => {
      if (o.ExternalPort === c.ExternalReadPort) problems.push(`Clusters[${i}].ExternalReadPort: ${c.ExternalReadPort} is also Clusters[${j}].ExternalPort${i === j ? ' (its own write port)' : ` (cluster "${o.Name}")`}; a read port needs a port of its own`);
      if (j < i && o.ExternalReadPort === c.ExternalReadPort) problems.push(`Clusters[${i}].ExternalReadPort: ${c.ExternalReadPort} is also Clusters[${j}].ExternalReadPort (cluster "${o.Name}"); each cluster needs its own read port`);
    });
  });
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
