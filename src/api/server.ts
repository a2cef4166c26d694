import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance, type FastifyServerFactory, type RouteHandlerMethod } from 'fastify';
import { EventStream } from './stream.js';
import type { Config } from '../config/load.js';
import { configurationForApi } from '../config/redacted.js';
import type { TopologyStore } from '../topology/store.js';
import { readPoolView } from './read-pool-view.js';
import type { OutputStatus } from '../outputs/types.js';
import type { ClusterQuorumStatus, SentinelStatus } from '../sentinel/status.js';
import { SentinelState } from '../sentinel/state.js';
import type { ListenTarget } from './bind.js';
import type { ApiPort } from './port.js';
import { quorumFields } from './fields.js';
import type { Registry } from 'prom-client';
import type { RouteVerification } from '../verify/types.js';

export interface HaproxyView {
  templateText(): string;
  renderedFile(): Promise<string>;
}

export interface ApiDeps {
  config(): Config;
  topology: TopologyStore;
  sentinels(): Record<string, SentinelStatus>;
  /** Quorum, hold reason and each sentinel's view of one cluster. */
  clusterStatus?(name: string): ClusterQuorumStatus;
  outputs(): OutputStatus[];
  /** Present for the HAProxy flavour: serves /api/template and /api/haproxy. */
  haproxy?(): HaproxyView | undefined;
  events?(): unknown[];
  /** Per cluster, per output: does a new client reach the confirmed master through it (src/verify)? */
  verification?(): Record<string, Record<string, RouteVerification>>;
  /** The same for read doors (clusters with an ExternalReadPort, proxies serving it). */
  readVerification?(): Record<string, Record<string, RouteVerification>>;
  metrics?: Registry;
  /** Live state pushed over /api/stream; the daemon calls notify() on every change. */
  stream?: EventStream;
}

let pageCache: string | null = null;
/** The status page: one static file, no external assets (works offline, no CDN). */
function statusPage(): string {
  pageCache ??= readFileSync(new URL('./page/index.html', import.meta.url), 'utf8');
  return pageCache;
}


const READ_METHODS = ['GET', 'HEAD'];
const OTHER_METHODS = ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

export { quorumFields };

/**
 * Why the daemon cannot do its job right now, or [] when it can: it needs at least one sentinel
 * alive to learn about failovers, and outputs whose last apply worked (an output that has not
 * applied anything yet is not failing: it may simply not have needed to).
 */
export function healthReasons(sentinels: Record<string, SentinelStatus>, outputs: OutputStatus[]): string[] {
  const reasons: string[] = [];
  const all = Object.values(sentinels);
  if (!all.some((s) => s.state === SentinelState.Alive)) {
    reasons.push(all.length === 0 ? 'no sentinel is known' : `no sentinel is alive (${all.map((s) => `${s.sentinelLocation} ${s.stateName}`).join(', ')})`);
  }
  for (const o of outputs) {
    // The runner counts failed applies since the last one that worked.
    const failures = Number(o.details?.consecutiveFailures ?? 0);
    if (failures > 0) reasons.push(`output ${o.name}: last apply failed${o.lastError ? `: ${o.lastError}` : ''}`);
  }
  return reasons;
}

/**
 * Read-only HTTP API; every route answers GET and HEAD, any other method gets 405. Without a
 * `serverFactory` call listen(); startApi() serves on a socket bound earlier.
 */
export function buildApi(deps: ApiDeps, opts: { serverFactory?: FastifyServerFactory } = {}): FastifyInstance {
  const app = Fastify({ logger: false, return503OnClosing: true, forceCloseConnections: true, ...opts });

  const routes = new Map<string, RouteHandlerMethod>();
  const text = 'text/plain; charset=utf-8';

  routes.set('/api/ping', async (_req, reply) => reply.type(text).send('Pong'));
  routes.set('/api/configuration', async () => configurationForApi(deps.config()));
  routes.set('/api/sentinels', async () => ({ sentinels: deps.sentinels() }));
  routes.set('/api/topology', async () => {
    const verification = deps.verification?.() ?? {};
    const readVerification = deps.readVerification?.() ?? {};
    return deps.topology.snapshot().clusters.map((c) => ({
      name: c.name,
      externalPort: c.externalPort,
      ip: c.master?.ip ?? null,
      port: c.master?.port ?? null,
      confirmed: c.master !== null,
      confirmedAt: c.confirmedAt,
      configEpoch: c.configEpoch,
      agreeingSentinels: c.agreeingSentinels,
      ...(deps.clusterStatus ? quorumFields(deps.clusterStatus(c.name)) : {}),
      externalReadPort: c.externalReadPort ?? null,
      readFallbackToMaster: c.readFallbackToMaster ?? true,
      readPool: readPoolView(c),
      verification: verification[c.name] ?? {},
      readVerification: readVerification[c.name] ?? {},
    }));
  });
  routes.set('/api/outputs', async () => ({ outputs: deps.outputs() }));
  routes.set('/api/health', async (_req, reply) => {
    const reasons = healthReasons(deps.sentinels(), deps.outputs());
    return reasons.length === 0 ? { status: 'ok', reasons } : reply.code(503).send({ status: 'degraded', reasons });
  });
  routes.set('/api/ready', async (_req, reply) => {
    const reasons: string[] = [];
    const snapshot = deps.topology.snapshot();
    for (const c of snapshot.clusters) if (!c.master) reasons.push(`cluster ${c.name} has no confirmed master`);
    for (const o of deps.outputs()) {
      if (o.appliedVersion === null || o.appliedVersion < snapshot.version) reasons.push(`output ${o.name} has not applied the current topology${o.lastError ? `: ${o.lastError}` : ''}`);
    }
    return reply.code(reasons.length ? 503 : 200).send({ ready: reasons.length === 0, reasons });
  });
  if (deps.events) {
    const events = deps.events;
    routes.set('/api/events', async () => ({ events: events() }));
  }
  routes.set('/', async (_req, reply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(statusPage()));
  if (deps.stream) routes.set('/api/stream', deps.stream.handler);
  if (deps.metrics) {
    const registry = deps.metrics;
    routes.set('/metrics', async (_req, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  }
  if (deps.haproxy) {
    const view = deps.haproxy;
    routes.set('/api/template', async (_req, reply) => {
      const h = view();
      if (!h) return reply.code(404).type(text).send('404 page not found');
      return reply.type(text).send(h.templateText());
    });
    routes.set('/api/haproxy', async (_req, reply) => {
      const h = view();
      if (!h) return reply.code(404).type(text).send('404 page not found');
      try {
        return reply.type(text).send(await h.renderedFile());
      } catch (err) {
        return reply.code(500).type(text).send(`cannot read the HAProxy config file: ${(err as Error).message}\n`);
      }
    });
    routes.set('/api/haproxy/status', async (_req, reply) => {
      const status = deps.outputs().find((o) => o.name === 'haproxy');
      return status ? status : reply.code(404).type(text).send('404 page not found');
    });
  }

  for (const [url, handler] of routes) {
    app.route({ method: READ_METHODS as ['GET', 'HEAD'], url, handler, exposeHeadRoute: false });
    app.route({
      method: [...OTHER_METHODS],
      url,
      handler: async (_req, reply) => reply.code(405).header('allow', 'GET, HEAD').type(text).send('405 method not allowed\n'),
    });
  }
  app.setNotFoundHandler(async (_req, reply) => reply.code(404).type(text).send('404 page not found\n'));
  return app;
}

export async function listen(app: FastifyInstance, target: ListenTarget): Promise<string> {
  if (target.kind === 'unix') {
    await app.listen({ path: target.path });
    return target.path;
  }
  return app.listen({ host: target.host, port: target.port, ipv6Only: false });
}

/** Builds the API on a socket bound earlier (ApiPort) and starts answering, waiting requests first. */
export async function startApi(deps: ApiDeps, port: ApiPort): Promise<FastifyInstance> {
  let handler: Parameters<ApiPort['attach']>[0] | null = null;
  const app = buildApi(deps, {
    serverFactory: (h) => {
      handler = h;
      return port.server;
    },
  });
  await app.ready();
  port.attach(handler!);
  return app;
}
