/**
 * STAND-IN for a Consul agent's HTTP API, for tests only. No Consul binary can be had on these
 * machines (not in Debian, not on npm), so this small server implements the documented endpoints
 * redishappy uses, with Consul's status codes and JSON shapes (https://developer.hashicorp.com/consul/api-docs):
 *   PUT /v1/agent/service/register, PUT /v1/agent/service/deregister/:id, GET /v1/agent/service/:id,
 *   GET /v1/agent/services, PUT /v1/agent/check/{pass,warn,fail}/:check_id, GET /v1/agent/checks,
 *   PUT /v1/catalog/register, PUT /v1/catalog/deregister, GET /v1/catalog/service/:name,
 *   GET /v1/catalog/nodes?node-meta=k:v, GET /v1/catalog/node/:node, GET /v1/health/node/:node
 * plus ACL token checks (X-Consul-Token → 403 "ACL not found"), and a simulation of anti-entropy:
 * catalog entries registered under a node that runs an agent are removed by runAntiEntropy().
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface Service {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
}

interface Check {
  CheckID: string;
  Name: string;
  Status: 'passing' | 'warning' | 'critical';
  Output: string;
  ServiceID: string;
  TTL?: string;
}

interface CatalogNode {
  Node: string;
  Address: string;
  Datacenter: string;
  NodeMeta: Record<string, string>;
  Services: Map<string, Service>;
  fromCatalogApi: Set<string>;
}

export interface RequestRecord {
  method: string;
  path: string;
  body: unknown;
  token: string | undefined;
  at: number;
}

export class ConsulStandIn {
  readonly requests: RequestRecord[] = [];
  /** Services registered with "this agent". */
  readonly agentServices = new Map<string, Service>();
  readonly checks = new Map<string, Check>();
  readonly nodes = new Map<string, CatalogNode>();
  /** Nodes that run a Consul agent (catalog entries under them are removed by anti-entropy). */
  readonly agentNodes = new Set<string>(['agent-1']);
  private server: http.Server;
  private down = false;
  private delayMs = 0;
  port = 0;

  constructor(private readonly opts: { token?: string; datacenter?: string } = {}) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.nodes.set('agent-1', { Node: 'agent-1', Address: '127.0.0.1', Datacenter: this.dc, NodeMeta: {}, Services: new Map(), fromCatalogApi: new Set() });
  }

  get dc(): string {
    return this.opts.datacenter ?? 'dc1';
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Down: every connection is reset, as when the agent is not running. */
  setDown(down: boolean): void {
    this.down = down;
  }

  setDelay(ms: number): void {
    this.delayMs = ms;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Consul's anti-entropy: an agent's node only keeps the services its agent knows. */
  runAntiEntropy(): void {
    for (const name of this.agentNodes) {
      const node = this.nodes.get(name);
      if (!node) continue;
      for (const id of node.fromCatalogApi) node.Services.delete(id);
      node.fromCatalogApi.clear();
    }
  }

  count(method: string, prefix: string): number {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(prefix)).length;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.down) {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown = undefined;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch {
        return this.send(res, 400, `Request decode failed: invalid character`);
      }
    }
    const url = new URL(req.url ?? '/', 'http://x');
    const token = req.headers['x-consul-token'] as string | undefined;
    this.requests.push({ method: req.method ?? '', path: url.pathname, body, token, at: Date.now() });
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.opts.token && token !== this.opts.token) return this.send(res, 403, 'ACL not found');
    try {
      this.route(req.method ?? 'GET', url, body, res);
    } catch (err) {
      this.send(res, 500, (err as Error).message);
    }
  }

  private send(res: http.ServerResponse, status: number, data: unknown): void {
    if (res.destroyed) return;
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    res.writeHead(status, { 'content-type': typeof data === 'string' ? 'text/plain; charset=utf-8' : 'application/json' });
    res.end(text);
  }

  private route(method: string, url: URL, body: unknown, res: http.ServerResponse): void {
    const p = url.pathname;
    const b = (body ?? {}) as Record<string, unknown>;
    let m: RegExpExecArray | null;
    if (method === 'PUT' && p === '/v1/agent/service/register') {
      if (!b.Name) return this.send(res, 400, 'Missing service name');
      const svc: Service = { ID: String(b.ID ?? b.Name), Service: String(b.Name), Tags: (b.Tags as string[]) ?? [], Address: String(b.Address ?? ''), Port: Number(b.Port ?? 0), Meta: (b.Meta as Record<string, string>) ?? {} };
      this.agentServices.set(svc.ID, svc);
      this.nodes.get('agent-1')!.Services.set(svc.ID, svc);
      const check = b.Check as Record<string, unknown> | undefined;
      if (check) {
        if (!check.TTL && !check.HTTP && !check.TCP && !check.Args) return this.send(res, 400, 'Invalid check: TTL must be > 0 for TTL checks');
        const id = String(check.CheckID ?? `service:${svc.ID}`);
        this.checks.set(id, { CheckID: id, Name: String(check.Name ?? ''), Status: (check.Status as Check['Status']) ?? 'critical', Output: '', ServiceID: svc.ID, TTL: check.TTL as string | undefined });
      }
      return this.send(res, 200, '');
    }
    if (method === 'PUT' && (m = /^\/v1\/agent\/service\/deregister\/(.+)$/.exec(p))) {
      const id = decodeURIComponent(m[1]!);
      if (!this.agentServices.delete(id)) return this.send(res, 404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
      this.nodes.get('agent-1')!.Services.delete(id);
      for (const [cid, c] of this.checks) if (c.ServiceID === id) this.checks.delete(cid);
      return this.send(res, 200, '');
    }
    if (method === 'GET' && (m = /^\/v1\/agent\/service\/(.+)$/.exec(p))) {
      const svc = this.agentServices.get(decodeURIComponent(m[1]!));
      if (!svc) return this.send(res, 404, 'unknown service ID');
      return this.send(res, 200, { ...svc, Datacenter: this.dc });
    }
    if (method === 'GET' && p === '/v1/agent/services') return this.send(res, 200, Object.fromEntries(this.agentServices));
    if (method === 'GET' && p === '/v1/agent/checks') return this.send(res, 200, Object.fromEntries(this.checks));
    if (method === 'PUT' && (m = /^\/v1\/agent\/check\/(pass|warn|fail)\/(.+)$/.exec(p))) {
      const check = this.checks.get(decodeURIComponent(m[2]!));
      if (!check) return this.send(res, 404, `Unknown check ID "${decodeURIComponent(m[2]!)}"`);
      check.Status = m[1] === 'pass' ? 'passing' : m[1] === 'warn' ? 'warning' : 'critical';
      check.Output = url.searchParams.get('note') ?? '';
      return this.send(res, 200, '');
    }
    if (method === 'PUT' && p === '/v1/catalog/register') {
      if (!b.Node) return this.send(res, 400, 'Missing node name');
      if (!b.Address) return this.send(res, 400, 'Missing node address');
      const name = String(b.Node);
      const node = this.nodes.get(name) ?? { Node: name, Address: '', Datacenter: String(b.Datacenter ?? this.dc), NodeMeta: {}, Services: new Map<string, Service>(), fromCatalogApi: new Set<string>() };
      if (!b.SkipNodeUpdate) {
        node.Address = String(b.Address);
        node.NodeMeta = (b.NodeMeta as Record<string, string>) ?? {};
      }
      const s = b.Service as Record<string, unknown> | undefined;
      if (s) {
        if (!s.Service) return this.send(res, 400, 'Missing service name');
        const svc: Service = { ID: String(s.ID ?? s.Service), Service: String(s.Service), Tags: (s.Tags as string[]) ?? [], Address: String(s.Address ?? ''), Port: Number(s.Port ?? 0), Meta: (s.Meta as Record<string, string>) ?? {} };
        node.Services.set(svc.ID, svc);
        node.fromCatalogApi.add(svc.ID);
      }
      this.nodes.set(name, node);
      return this.send(res, 200, true);
    }
    if (method === 'PUT' && p === '/v1/catalog/deregister') {
      if (!b.Node) return this.send(res, 400, 'Missing node name');
      const node = this.nodes.get(String(b.Node));
      if (node && b.ServiceID) node.Services.delete(String(b.ServiceID));
      else if (node) this.nodes.delete(node.Node);
      return this.send(res, 200, true);
    }
    if (method === 'GET' && (m = /^\/v1\/catalog\/service\/(.+)$/.exec(p))) {
      const name = decodeURIComponent(m[1]!);
      const out = [];
      for (const node of this.nodes.values()) {
        for (const svc of node.Services.values()) {
          if (svc.Service !== name) continue;
          out.push({ Node: node.Node, Address: node.Address, Datacenter: node.Datacenter, NodeMeta: node.NodeMeta, ServiceID: svc.ID, ServiceName: svc.Service, ServiceTags: svc.Tags, ServiceAddress: svc.Address, ServicePort: svc.Port, ServiceMeta: svc.Meta });
        }
      }
      return this.send(res, 200, out);
    }
    if (method === 'GET' && p === '/v1/catalog/nodes') {
      const filter = url.searchParams.get('node-meta');
      const [k, v] = filter ? (filter.split(':') as [string, string]) : [null, null];
      return this.send(
        res,
        200,
        [...this.nodes.values()].filter((n) => k === null || n.NodeMeta[k] === v).map((n) => ({ Node: n.Node, Address: n.Address, Datacenter: n.Datacenter, Meta: n.NodeMeta })),
      );
    }
    if (method === 'GET' && (m = /^\/v1\/catalog\/node\/(.+)$/.exec(p))) {
      const node = this.nodes.get(decodeURIComponent(m[1]!));
      if (!node) return this.send(res, 200, null);
      return this.send(res, 200, { Node: { Node: node.Node, Address: node.Address, Datacenter: node.Datacenter, Meta: node.NodeMeta }, Services: Object.fromEntries(node.Services) });
    }
    if (method === 'GET' && (m = /^\/v1\/health\/node\/(.+)$/.exec(p))) {
      const name = decodeURIComponent(m[1]!);
      return this.send(res, 200, this.agentNodes.has(name) ? [{ Node: name, CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing' }] : []);
    }
    return this.send(res, 404, '');
  }
}
