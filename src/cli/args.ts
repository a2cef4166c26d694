import { Command, Option } from 'commander';
import type { Flavour } from '../config/load.js';
import type { LogFormat } from '../log/pretty.js';
import { DESCRIPTION, FLAGS, TITLES, flagSpec, helpAfter } from './manual.js';

export interface CliOptions {
  config: string;
  log?: string;
  bind?: string;
  logLevel: string;
  logFormat: LogFormat;
  checkConfig: boolean;
}

const LONG_FLAGS = FLAGS.map((f) => f.long);

/**
 * The original used Go's flag package, where "-config x", "-config=x" and "--config x" are all the
 * same flag. Commander treats "-config" as bundled short flags, so rewrite single-dash long flags first.
 */
export function normalizeGoFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  let passthrough = false;
  for (const arg of argv) {
    if (passthrough || arg === '--') {
      passthrough = true;
      out.push(arg);
      continue;
    }
    const m = /^-([a-zA-Z][a-zA-Z-]+)(=.*)?$/.exec(arg);
    if (m && LONG_FLAGS.includes(m[1]!)) out.push(`--${m[1]}${m[2] ?? ''}`);
    else out.push(arg);
  }
  return out;
}

export function buildCommand(flavour: Flavour, version: string): Command {
  const t = TITLES[flavour];
  const cmd = new Command(t.name).description(`${t.summary}\n\n${DESCRIPTION}`);
  for (const f of FLAGS) {
    if (f.long === 'version') cmd.version(version, flagSpec(f), f.help);
    else if (f.long === 'help') cmd.helpOption(flagSpec(f), f.help);
    else {
      const o = new Option(flagSpec(f), f.help);
      if (f.defaultValue !== undefined) o.default(f.defaultValue);
      if (f.choices) o.choices(f.choices);
      if (f.env) o.env(f.env);
      cmd.addOption(o);
    }
  }
  return cmd.addHelpText('after', helpAfter(flavour)).exitOverride();
}
