import { readFileSync } from 'node:fs';
import { CommanderError } from 'commander';
import type { LevelWithSilent } from 'pino';
import { buildCommand, normalizeGoFlags, type CliOptions } from './args.js';
import { Daemon } from './daemon.js';
import { ConfigError, loadConfigFile, type Config, type Flavour, type LoadedConfig } from '../config/load.js';
import { parseBind, resolveBind } from '../api/bind.js';
import { createLogging } from '../log/logger.js';
import { TITLES } from './manual.js';
import { kindsFor, sectionValue } from '../outputs/kinds.js';
import type { PlannedOutput } from '../outputs/kind.js';
import { startSpawner } from '../spawn/spawner.js';

declare const __REDISHAPPY_VERSION__: string | undefined;

export function packageVersion(): string {
  // Set by scripts/build.mjs in the single-file bundle, where package.json is not next to us.
  if (typeof __REDISHAPPY_VERSION__ === 'string') return __REDISHAPPY_VERSION__;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export type { PlannedOutput } from '../outputs/kind.js';

/** The outputs `flavour` runs for `config`, in the order the daemon creates them (createOutputs in daemon.ts). */
export function plannedOutputs(flavour: Flavour, config: Config): PlannedOutput[] {
  return kindsFor(flavour).flatMap((kind) => {
    const value = sectionValue(config, kind);
    return value === undefined ? [] : kind.describe(value);
  });
}

/** What --check-config prints on stdout for a valid configuration: summary, outputs, warnings. */
export function checkConfigReport(path: string, flavour: Flavour, loaded: LoadedConfig): string {
  const { config, warnings } = loaded;
  const outputs = plannedOutputs(flavour, config);
  const lines = [
    `${path}: configuration OK (${config.Clusters.length} cluster(s), ${config.Sentinels.length} sentinel(s), ${outputs.length} output(s), ${warnings.length} warning(s))`,
  ];
  if (outputs.length === 0) lines.push(`outputs run by ${TITLES[flavour].name}: none (only the API)`);
  else {
    lines.push(`outputs run by ${TITLES[flavour].name}:`);
    const width = Math.max(...outputs.map((o) => o.name.length));
    for (const o of outputs) lines.push(`  ${o.name.padEnd(width)}  ${o.kind.padEnd(8)}  ${o.detail}`);
  }
  for (const w of warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

/** Exit codes: 0 ok, 1 runtime failure (port in use, output cannot start), 2 usage or configuration error. */
export async function main(flavour: Flavour, argv: string[] = process.argv.slice(2)): Promise<void> {
  const cmd = buildCommand(flavour, packageVersion());
  let opts: CliOptions;
  try {
    cmd.parse(normalizeGoFlags(argv), { from: 'user' });
    opts = cmd.opts<CliOptions>();
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2);
    throw err;
  }

  let loaded;
  try {
    loaded = loadConfigFile(opts.config, process.env, flavour);
  } catch (err) {
    if (err instanceof ConfigError) {
      // The warnings too: an unknown key is often the misspelling behind a missing one.
      process.stderr.write(`${err.message}\n${err.warnings.map((w) => `warning: ${w}\n`).join('')}`);
      process.exit(2);
    }
    throw err;
  }
  if (opts.checkConfig) {
    process.stdout.write(checkConfigReport(opts.config, flavour, loaded));
    process.exit(0);
  }

  let listenTarget;
  try {
    const bind = resolveBind(opts.bind, process.env);
    listenTarget = parseBind(bind.value, bind.source);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }

  const logging = createLogging({ level: opts.logLevel as LevelWithSilent, logDir: opts.log, syslog: loaded.config.Syslog, format: opts.logFormat });
  const log = logging.logger;
  for (const note of loaded.notes) log.info(note);
  for (const w of loaded.warnings) log.warn(w);
  log.info({ config: opts.config, flavour, version: packageVersion() }, 'starting redishappy');
  // Before the sentinel links, outputs and API make the daemon big: see src/spawn/spawner.ts.
  // The first reload does not wait for it to boot (it forks directly until the helper is ready).
  startSpawner(log.child({ component: 'spawner' }), { directUntilReady: true });

  const daemon = new Daemon({ flavour, configPath: opts.config, config: loaded.config, logger: log, listen: listenTarget });
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    const force = setTimeout(() => process.exit(1), 10000);
    force.unref();
    await daemon.stop().catch((err: unknown) => log.error({ err }, 'error while stopping'));
    log.info('stopped');
    logging.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGHUP', () => {
    logging.reopen();
    log.info('SIGHUP: reopened the log file and reloading the configuration');
    void daemon.reload();
  });

  try {
    await daemon.start();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const msg = e.code === 'EADDRINUSE' ? `cannot listen on ${JSON.stringify(listenTarget)}: address already in use` : e.message;
    log.fatal({ err: msg }, 'cannot start');
    process.stderr.write(`redishappy: cannot start: ${msg}\n`);
    await daemon.stop().catch(() => {});
    logging.close();
    process.exit(1);
  }
}
