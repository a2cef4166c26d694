import { splitHostPort } from '../config/address.js';

export type ListenTarget = { kind: 'tcp'; host: string; port: number } | { kind: 'unix'; path: string };

/**
 * The original's (goji) address precedence: -bind flag, then GOJI_BIND (BIND as its README said),
 * then PORT, then ":8000". ":8000" means every interface.
 */
export function resolveBind(flag: string | undefined, env: NodeJS.ProcessEnv): { value: string; source: string } {
  if (flag) return { value: flag, source: '-bind' };
  if (env.BIND) return { value: env.BIND, source: 'BIND' };
  if (env.GOJI_BIND) return { value: env.GOJI_BIND, source: 'GOJI_BIND' };
  if (env.PORT) return { value: `:${env.PORT}`, source: 'PORT' };
  return { value: ':8000', source: 'default' };
}

export function parseBind(value: string, source: string): ListenTarget {
  if (value.startsWith('/') || value.startsWith('.')) return { kind: 'unix', path: value };
  if (value.startsWith('fd@') || value.startsWith('einhorn@')) {
    throw new Error(`${source}: "${value}": socket activation (fd@/einhorn@) is not supported; give host:port or a unix socket path`);
  }
  const hp = splitHostPort(value);
  if (!hp || !/^\d+$/.test(hp.port) || Number(hp.port) > 65535) {
    throw new Error(`${source}: "${value}" is not a listen address (examples: :8000, 127.0.0.1:8000, [::1]:8000, /run/redishappy.sock)`);
  }
  return { kind: 'tcp', host: hp.host === '' ? '::' : hp.host, port: Number(hp.port) };
}
