import type { Config } from './load.js';

/** Names the original wrote out unchanged; every other key is written lowerCamel as its struct tags did. */
const KEEP_AS_IS = new Set(['SentinelTCPKeepAlive', 'HAProxy']);
const SECRET = /password|token|secret|passphrase|authorization|api-?key|cookie/i;
export const REDACTED = '<redacted>';

function apiKey(key: string): string {
  if (KEEP_AS_IS.has(key)) return key;
  return key.charAt(0).toLowerCase() + key.slice(1);
}

/** Objects whose keys are the user's own (header names, cluster names, metadata): kept verbatim. */
const USER_KEYED = new Set(['Headers', 'Servers', 'Meta']);

/** Webhook URLs often carry their secret in the path or query (e.g. chat webhooks): show the origin only. */
function redactUrl(value: string): string {
  try {
    const u = new URL(value);
    return u.pathname === '/' && !u.search ? u.origin : `${u.origin}/${REDACTED}`;
  } catch {
    return REDACTED;
  }
}

function convert(value: unknown, keyName?: string): unknown {
  if (keyName !== undefined && SECRET.test(keyName) && value !== undefined && value !== null && value !== '') return REDACTED;
  if (keyName === 'Url' && typeof value === 'string') return redactUrl(value);
  if (Array.isArray(value)) return value.map((v) => convert(v));
  if (value !== null && typeof value === 'object') {
    const verbatim = keyName !== undefined && USER_KEYED.has(keyName);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      out[verbatim ? k : apiKey(k)] = convert(v, k);
    }
    return out;
  }
  return value;
}

/**
 * The effective configuration in the original's /api/configuration shape
 * (clusters/sentinels/HAProxy/consul, lowerCamel fields), secrets replaced by "<redacted>".
 * ReloadCommand and URL-like values may embed credentials too: user:pass@ is masked.
 */
export function configurationForApi(config: Config): unknown {
  const out = convert(config) as Record<string, unknown>;
  if (!('consul' in out)) out.consul = { address: '', services: null };
  if (!('HAProxy' in out)) out.HAProxy = {};
  return JSON.parse(JSON.stringify(out, (_k, v: unknown) => (typeof v === 'string' ? v.replace(/(\/\/[^/\s:@]+):[^@\s/]+@/g, `$1:${REDACTED}@`) : v)));
}
