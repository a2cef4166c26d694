import { z } from 'zod';
import type { VerifySetting } from '../verify-fields.js';

/** Shared by HAProxy and Templates: skip re-validating known-good bytes, and prepare likely next files. */
export const validateCacheFields = {
  /** Bytes that passed the validate command (same command, same template) are not validated again. */
  ValidateCache: z.boolean({ error: 'must be true or false' }).default(true),
  /** While idle, validate the files a next failover would most likely need (one per replica / past master). */
  Prevalidate: z.boolean({ error: 'must be true or false' }).default(true),
  /**
   * Server slots per read backend (`.ReadSlots` in templates): HAProxy's runtime mode fills them
   * without a reload; a read pool larger than this is applied with a reload.
   */
  ReadSlots: z.number({ error: 'must be a number of server slots' }).int('must be a whole number').min(1, 'must be at least 1').max(256, 'must be at most 256').default(8),
};

/** The settings every file output (HAProxy, each Templates entry) hands the shared pipeline. */
export interface FileOutputConfig {
  TemplatePath: string;
  OutputPath: string;
  /** `{file}` = the candidate's shell-quoted path; "" = no validation. */
  ValidateCommand: string;
  /** "" = only write the file (nothing to reload). */
  ReloadCommand: string;
  ValidateTimeoutMs: number;
  ReloadTimeoutMs: number;
  ReloadSettleMs?: number;
  /** Skip validating bytes that already passed the same validate command (default true). */
  ValidateCache?: boolean;
  /** When idle, validate the files likely to be needed next (default true). */
  Prevalidate?: boolean;
  /** Where clients connect, for verification (src/verify); false = not verified. */
  Verify?: VerifySetting | undefined;
  VerifyIntervalMs?: number;
  VerifyRetries?: number;
  /** Server slots per read backend (default 8). */
  ReadSlots?: number;
}
