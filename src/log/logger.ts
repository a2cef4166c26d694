import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pino, { type Logger, type LevelWithSilent, type StreamEntry } from 'pino';
import type { SyslogConfig } from '../config/schema.js';
import { SyslogStream } from './syslog.js';
import { prettyStream, resolveFormat, useColour, type LogFormat } from './pretty.js';

export interface LoggerOptions {
  level: LevelWithSilent;
  /** -log DIR: also write DIR/redis-happy.log (the original's file name). */
  logDir?: string | undefined;
  syslog?: SyslogConfig | undefined;
  /** Where the console stream goes (stdout by default; tests pass their own). */
  destination?: NodeJS.WritableStream;
  /** Console lines: auto (readable on a terminal, JSON otherwise), json or pretty. The file and syslog are unaffected. */
  format?: LogFormat | undefined;
}

export const LOG_FILE_NAME = 'redis-happy.log';

export interface Logging {
  logger: Logger;
  /** Reopen the log file (after logrotate moved it); called on SIGHUP. */
  reopen(): void;
  close(): void;
}

/** Keys whose values must never reach a log line. */
const REDACT = ['password', 'Password', 'token', 'Token', 'secret', 'Secret', '*.password', '*.Password', '*.token', '*.Token', '*.secret', '*.Secret', 'config.Sentinels[*].Password', 'config.Consul.Token'];

export function createLogging(opts: LoggerOptions): Logging {
  const out = opts.destination ?? process.stdout;
  const isTTY = (out as { isTTY?: boolean }).isTTY === true;
  const consoleStream = resolveFormat(opts.format ?? 'auto', isTTY) === 'pretty' ? prettyStream(out, useColour(isTTY, process.env)) : out;
  const streams: StreamEntry[] = [{ level: opts.level === 'silent' ? 'fatal' : opts.level, stream: consoleStream }];
  let file: ReturnType<typeof pino.destination> | null = null;
  if (opts.logDir) {
    mkdirSync(opts.logDir, { recursive: true });
    file = pino.destination({ dest: join(opts.logDir, LOG_FILE_NAME), sync: false, mkdir: true });
    streams.push({ level: opts.level === 'silent' ? 'fatal' : opts.level, stream: file });
  }
  let syslog: SyslogStream | null = null;
  if (opts.syslog?.Enabled) {
    syslog = new SyslogStream(opts.syslog, (msg) => process.stderr.write(`redishappy: ${msg}\n`));
    streams.push({ level: opts.syslog.Level, stream: syslog });
  }
  const logger = pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: '<redacted>' },
    },
    pino.multistream(streams),
  );
  return {
    logger,
    reopen: () => file?.reopen(),
    close: () => {
      logger.flush();
      syslog?.close();
    },
  };
}
