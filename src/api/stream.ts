import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Server-Sent Events hub for GET /api/stream: each client gets a `state` event on connect and
 * whenever anything changes (debounced), so pages and scripts follow failovers without polling.
 */
export class EventStream {
  private clients = new Set<FastifyReply>();
  private timer: NodeJS.Timeout | null = null;
  private keepAlive: NodeJS.Timeout;

  constructor(private readonly state: () => unknown) {
    this.keepAlive = setInterval(() => {
      for (const c of this.clients) c.raw.write(': keep-alive\n\n');
    }, 15000);
    this.keepAlive.unref();
  }

  handler = async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    reply.raw.write(`retry: 1000\nevent: state\ndata: ${JSON.stringify(this.state())}\n\n`);
    this.clients.add(reply);
    req.raw.on('close', () => this.clients.delete(reply));
  };

  /** Something changed: push the new state soon (bursts coalesce into one message). */
  notify(): void {
    if (this.timer || this.clients.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const data = `event: state\ndata: ${JSON.stringify(this.state())}\n\n`;
      for (const c of this.clients) c.raw.write(data);
    }, 50);
  }

  close(): void {
    clearInterval(this.keepAlive);
    if (this.timer) clearTimeout(this.timer);
    for (const c of this.clients) c.raw.end();
    this.clients.clear();
  }
}
