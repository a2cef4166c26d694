import { readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { ConsulSection } from './config.js';

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

/**
 * A minimal client for Consul's HTTP API: every call bounded by TimeoutMs, the ACL token in
 * X-Consul-Token, JSON in and out. No retries here: the sink decides what to retry.
 */
export class ConsulClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly ca: Buffer | undefined;

  constructor(private readonly cfg: ConsulSection) {
    const explicit = /^https?:\/\//.test(cfg.Address);
    this.base = new URL(explicit ? cfg.Address : `${cfg.Scheme}://${cfg.Address}`);
    this.ca = cfg.CaFile ? readFileSync(cfg.CaFile) : undefined;
    this.agent = this.base.protocol === 'https:' ? new https.Agent({ keepAlive: true, ca: this.ca }) : new http.Agent({ keepAlive: true });
  }

  get address(): string {
    return this.base.origin;
  }

  async request<T = unknown>(method: 'GET' | 'PUT', path: string, body?: unknown): Promise<{ status: number; data: T | null }> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    if (this.cfg.Token) headers['x-consul-token'] = this.cfg.Token;
    const lib = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method, headers, agent: this.agent, timeout: this.cfg.TimeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status === 404 && method === 'GET') return resolve({ status, data: null });
          if (status < 200 || status >= 300) return reject(new ConsulHttpError(status, text, `${method} ${url.pathname}`));
          try {
            resolve({ status, data: text ? (JSON.parse(text) as T) : null });
          } catch {
            resolve({ status, data: null });
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`${method} ${url.pathname}: no answer from Consul within ${this.cfg.TimeoutMs}ms`)));
      req.on('error', (err) => reject(err.message.includes(url.pathname) ? err : new Error(`${method} ${url.pathname}: ${err.message}`)));
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
