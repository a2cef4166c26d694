import { createHmac } from 'node:crypto';
import type { WebhookHook } from './config.js';
import { PermanentError } from './deliver-exec.js';
import type { HookEvent } from './payload.js';

/** Signature header value for a body: receivers recompute it with the shared secret. */
export function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * POST the event as JSON. 2xx = delivered. 4xx other than 408/429 = permanent (not retried);
 * anything else (5xx, timeout, connection error) is retried by the queue.
 */
export async function postWebhook(hook: WebhookHook, event: HookEvent, signal: AbortSignal): Promise<string> {
  const body = JSON.stringify(event);
  // Header names are case-insensitive: lower-case the user's so ours below replace, not join, them.
  const headers: Record<string, string> = {
    ...Object.fromEntries(Object.entries(hook.Headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
    'content-type': 'application/json',
    'user-agent': 'redishappy',
    'x-redishappy-event': event.event,
    'x-redishappy-delivery': event.deliveryId,
    'x-redishappy-timestamp': new Date().toISOString(),
  };
  if (hook.Secret) headers['x-redishappy-signature'] = sign(hook.Secret, body);
  let res: Response;
  try {
    res = await fetch(hook.Url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.any([signal, AbortSignal.timeout(hook.TimeoutMs)]) });
  } catch (err) {
    if (signal.aborted) throw new PermanentError('stopped');
    const e = err as Error;
    throw new Error(e.name === 'TimeoutError' ? `no answer within ${hook.TimeoutMs}ms` : `${e.message}${(e as { cause?: Error }).cause ? `: ${(e as { cause?: Error }).cause!.message}` : ''}`);
  }
  const text = (await res.text().catch(() => '')).slice(0, 500);
  if (res.ok) return `${res.status}`;
  const msg = `HTTP ${res.status}${text ? `: ${text}` : ''}`;
  if (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429) throw new PermanentError(msg);
  throw new Error(msg);
}
