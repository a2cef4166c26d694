import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ListenTarget } from './bind.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The API's listening socket, bound at start-up with plain node:http (a taken port still stops
 * the daemon before any output is touched). The API itself (Fastify) is built later, off the
 * start-up path: requests that arrive before it is attached wait and are then answered in order.
 */
export class ApiPort {
  readonly server: Server;
  private handler: Handler | null = null;
  private waiting: Array<[IncomingMessage, ServerResponse]> = [];

  /** `onWaiting` is called when a request arrives before the API is attached. */
  constructor(private readonly onWaiting: () => void = () => {}) {
    this.server = createServer((req, res) => {
      if (this.handler) return this.handler(req, res);
      this.waiting.push([req, res]);
      this.onWaiting();
    });
  }

  /** Binds the address; resolves to a description of it (as Fastify's listen() gave it). */
  listen(target: ListenTarget): Promise<string> {
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => reject(err);
      this.server.once('error', fail);
      const done = () => {
        this.server.off('error', fail);
        if (target.kind === 'unix') return resolve(target.path);
        const a = this.server.address() as AddressInfo;
        resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
      };
      if (target.kind === 'unix') this.server.listen(target.path, done);
      else this.server.listen({ host: target.host, port: target.port, ipv6Only: false }, done);
    });
  }

  /** From now on requests go to `handler`; the waiting ones first. */
  attach(handler: Handler): void {
    this.handler = handler;
    for (const [req, res] of this.waiting.splice(0)) handler(req, res);
  }

  /** Stops listening and closes every connection (streams included). */
  close(): Promise<void> {
    for (const [, res] of this.waiting.splice(0)) {
      res.statusCode = 503;
      res.end();
    }
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
