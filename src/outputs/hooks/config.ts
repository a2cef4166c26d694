import { z } from 'zod';

/** `Exec` and `Webhook` sections: commands and HTTP endpoints told about every confirmed master change. */
const clusters = z.array(z.string({ error: 'cluster names are strings' }), { error: 'must be a list of cluster names' }).optional();
const ms = (def: number) => z.number({ error: 'must be a number of milliseconds' }).int('must be a whole number').min(1, 'must be at least 1').default(def);
const attempts = z.number({ error: 'must be a number' }).int('must be a whole number').min(1, 'must be at least 1').default(10);

export const execHookSchema = z.object({
  /** Program to run (no shell unless Shell is true). */
  Command: z.string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') }).min(1, 'must not be empty'),
  Args: z.array(z.string({ error: 'arguments are strings' }), { error: 'must be a list of strings' }).default([]),
  /** Run Command with /bin/sh -c (Args are then passed as $1, $2, ...). */
  Shell: z.boolean({ error: 'must be true or false' }).default(false),
  TimeoutMs: ms(10000),
  /** Only these clusters (default: all). */
  Clusters: clusters,
  MaxAttempts: attempts,
});

export const webhookSchema = z.object({
  Url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }),
  /** Extra request headers; values of headers named like authorization/token/secret/key are redacted in the API. */
  Headers: z.record(z.string(), z.string({ error: 'header values are strings' }), { error: 'must be an object of header values' }).optional(),
  TimeoutMs: ms(5000),
  /** HMAC-SHA256 key: the body is signed in X-Redishappy-Signature: sha256=<hex>. */
  Secret: z.string({ error: 'must be a string' }).min(1, 'must not be empty').optional(),
  Clusters: clusters,
  MaxAttempts: attempts,
});

export const execSectionSchema = z.array(execHookSchema, { error: 'must be a list of commands' });
export const webhookSectionSchema = z.array(webhookSchema, { error: 'must be a list of webhooks' });
export type ExecHook = z.infer<typeof execHookSchema>;
export type WebhookHook = z.infer<typeof webhookSchema>;
