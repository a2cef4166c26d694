import { createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cleanup } from '../harness/index.js';

export interface ReceivedPost {
  method: string;
  url: string;
  body: string;
  headers: http.IncomingHttpHeaders;
  /** ms since epoch when the whole body had arrived. */
  at: number;
}

export interface Answer {
  status: number;
  /** Wait this long before answering (a slow receiver). */
  delayMs?: number;
  body?: string;
}

export interface WebhookReceiver {
  url: string;
  port: number;
  received: ReceivedPost[];
  /** Bodies parsed as JSON, in arrival order. */
  events(): Array<Record<string, unknown>>;
}

/**
 * A real HTTP server on 127.0.0.1:<free port> recording every request. `answer(n)` decides the
 * reply to the n-th request (0-based): status, optional delay, optional body. Closed on cleanup.
 */
export async function startWebhookReceiver(cleanup: Cleanup, answer: (n: number, post: ReceivedPost) => Answer = () => ({ status: 200 })): Promise<WebhookReceiver> {
  const received: ReceivedPost[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const post: ReceivedPost = { method: req.method ?? '', url: req.url ?? '', body: Buffer.concat(chunks).toString('utf8'), headers: req.headers, at: Date.now() };
      const n = received.length;
      received.push(post);
      const a = answer(n, post);
      const reply = () => {
        if (!res.destroyed) res.writeHead(a.status, { 'content-type': 'text/plain' }).end(a.body ?? 'ok');
      };
      if (a.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          reply();
        }, a.delayMs);
        timers.add(t);
      } else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(
    () =>
      new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    events: () => received.map((r) => JSON.parse(r.body) as Record<string, unknown>),
  };
}

/** What a receiver does with `X-Redishappy-Signature`: recompute the HMAC of the raw body and compare in constant time. */
export function verifySignature(secret: string, rawBody: string, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`);
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}
