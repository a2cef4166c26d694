import { z } from 'zod';

/** Shared by HAProxy and Templates: skip re-validating known-good bytes, and prepare likely next files. */
export const validateCacheFields = {
  /** Bytes that passed the validate command (same command, same template) are not validated again. */
  ValidateCache: z.boolean({ error: 'must be true or false' }).default(true),
  /** While idle, validate the files a next failover would most likely need (one per replica / past master). */
  Prevalidate: z.boolean({ error: 'must be true or false' }).default(true),
};
