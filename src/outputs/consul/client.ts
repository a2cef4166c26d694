import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { ConsulSection } from './config.js';

/** Consul answered, with a status other than 2xx. */
export class ConsulHttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    what: string,
  ) {
    super(`${what}: Consul answered ${status}${body ? ` (${body.trim().slice(0, 200)})` : ''}`);
    this.name = 'ConsulHttpError';
  }
}

/** Consul did not answer: connection refused or reset, TLS failure, or no answer within TimeoutMs. */
export class ConsulUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConsulUnreachableError';
  }
}

/** The base URL: Address as given when it has a scheme, else Scheme://Address. */
export function consulBaseUrl(cfg: Pick<ConsulSection, 'Address' | 'Scheme'>): URL {
  return new URL(/^https?:\/\//.test(cfg.Address) ? cfg.Address : `${cfg.Scheme}://${cfg.Address}`);
}

const MAX_BODY = 16 * 1024 * 1024;

export interface ConsulResponse<T> {
  status: number;
  /** Parsed JSON body; null for an empty body, a GET answered 404 (when allowed) or JSON `null`. */
  data: T | null;
}

/**
 * A minimal client for Consul's HTTP API. Every call has a hard deadline of TimeoutMs (connect,
 * send and the whole answer), the ACL token goes in X-Consul-Token, JSON in and out. No retries
 * here: the output decides what to retry. close() aborts calls in flight and refuses new ones.
 * Nothing in here knows about tests: it talks to a real Consul unchanged.
 */
export class ConsulClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly inFlight = new Set<http.ClientRequest>();
  private closed = false;

  constructor(private readonly cfg: Pick<ConsulSection, 'Address' | 'Scheme' | 'Token' | 'CaFile' | 'TimeoutMs'>) {
    this.base = consulBaseUrl(cfg);
    if (this.base.protocol === 'https:') {
      let ca: Buffer | undefined;
      if (cfg.CaFile) {
        try {
          ca = readFileSync(cfg.CaFile);
        } catch (err) {
          throw new Error(`Consul.CaFile: cannot read "${cfg.CaFile}": ${(err as Error).message}`);
        }
      }
      this.agent = new https.Agent({ keepAlive: true, maxSockets: 8, ...(ca ? { ca } : {}) });
    } else {
      this.agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    }
  }

  /** scheme://host:port, for logs and status (never the token). */
  get address(): string {
    return this.base.origin;
  }

  async request<T = unknown>(method: 'GET' | 'PUT', path: string, opts: { body?: unknown; query?: Record<string, string | undefined>; allow404?: boolean } = {}): Promise<ConsulResponse<T>> {
    const url = new URL(path, this.base);
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const what = `${method} ${url.pathname}${url.search}`;
    if (this.closed) throw new ConsulUnreachableError(`${what}: the Consul output is closed`);
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    } else if (method === 'PUT') headers['content-length'] = '0';
    if (this.cfg.Token) headers['x-consul-token'] = this.cfg.Token;
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise<ConsulResponse<T>>((resolve, reject) => {
      let settled = false;
      const done = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        this.inFlight.delete(req);
        fn();
      };
      const fail = (err: Error) => done(() => reject(err));
      const req = lib.request(url, { method, headers, agent: this.agent }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_BODY) req.destroy(new Error(`answer larger than ${MAX_BODY} bytes`));
          else chunks.push(c);
        });
        res.on('error', (err) => fail(new ConsulUnreachableError(`${what}: ${err.message}`)));
        res.on('close', () => {
          if (!res.complete) fail(new ConsulUnreachableError(`${what}: connection closed before the whole answer`));
        });
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status === 404 && opts.allow404) return done(() => resolve({ status, data: null }));
          if (status < 200 || status >= 300) return fail(new ConsulHttpError(status, text, what));
          let data: T | null = null;
          try {
            data = text.trim() ? (JSON.parse(text) as T) : null;
          } catch {
            return fail(new ConsulHttpError(status, text, `${what}: answer is not JSON`));
          }
          done(() => resolve({ status, data }));
        });
      });
      this.inFlight.add(req);
      const deadline = setTimeout(() => req.destroy(new Error(`no answer from Consul within ${this.cfg.TimeoutMs}ms`)), this.cfg.TimeoutMs);
      req.on('error', (err) => fail(new ConsulUnreachableError(err.message.startsWith(what) ? err.message : `${what}: ${err.message}`)));
      req.end(payload);
    });
  }

  /** Abort calls in flight, refuse new ones, drop idle connections. */
  close(): void {
    this.closed = true;
    for (const req of this.inFlight) req.destroy(new Error('the Consul output is closed'));
    this.inFlight.clear();
    this.agent.destroy();
  }
}
