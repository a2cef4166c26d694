import { z } from 'zod';
import { validateCacheFields } from '../file/config.js';
import { proxyVerifyFields } from '../verify-fields.js';

/**
 * The `HAProxy` section. Keys are the canonical PascalCase spellings: the config loader maps user
 * keys onto them case-insensitively, as the original (Go encoding/json) did.
 */

const requiredString = z
  .string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a non-empty string') })
  .refine((s) => s.trim() !== '', 'must be a non-empty string');

const timeoutMs = (def: number) =>
  z
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(1, 'must be at least 1')
    .max(600_000, 'must be at most 600000 (10 minutes)')
    .default(def);

/** HAProxy names used in runtime commands: no white space, `;`, `/` or `#` (they would split or comment the command). */
const RUNTIME_NAME = /^[^\s;/#]+$/;

// Not -q: in 2.6 -q also silences the ALERT lines that say what is wrong.
export const DEFAULT_VALIDATE_COMMAND = 'haproxy -c -f {file}';

export const haproxySectionSchema = z.object({
  /** Go text/template rendered with the confirmed masters. */
  TemplatePath: requiredString,
  /** The HAProxy configuration file written from the template. Need not exist at start-up. */
  OutputPath: requiredString,
  /** Run with /bin/sh -c after a new file is in place. */
  ReloadCommand: requiredString,
  /** Checks a candidate file before it replaces OutputPath; `{file}` is the candidate's (shell-quoted) path. "" disables. */
  ValidateCommand: z.string({ error: 'must be a string' }).default(DEFAULT_VALIDATE_COMMAND),
  ReloadTimeoutMs: timeoutMs(10_000),
  ValidateTimeoutMs: timeoutMs(10_000),
  /** HAProxy admin stats socket (unix path or host:port). When set, master switches are applied live without a reload. */
  RuntimeSocket: z
    .string({ error: 'must be a unix socket path or host:port' })
    .refine((s) => s.trim() !== '', 'must be a unix socket path or host:port')
    .optional(),
  RuntimeTimeoutMs: timeoutMs(2_000),
  /**
   * Wait this long after the first master change before applying, so that changes arriving
   * together (many clusters failing over at once) make one reload. Adds that much latency to
   * every switch; 0 (default) applies at once and batches whatever arrives during an apply.
   */
  ReloadSettleMs: z.number({ error: 'must be a number of milliseconds' }).int('must be a whole number').min(0, 'must be 0 or more').max(60_000, 'must be at most 60000').default(0),
  /** Cluster name → "backend/server" to switch live; default bk_<name>/R_<name>_1 as in the shipped template. */
  Servers: z
    .record(
      z.string(),
      z
        .string({ error: 'must be "backend/server"' })
        .refine((s) => {
          const parts = s.split('/');
          return parts.length === 2 && parts.every((p) => RUNTIME_NAME.test(p));
        }, 'must be "backend/server" (no spaces, ";" or "#")'),
      { error: 'must be an object mapping cluster names to "backend/server"' },
    )
    .optional(),
  ...validateCacheFields,
  ...proxyVerifyFields,
});

export type HaproxySection = z.infer<typeof haproxySectionSchema>;
