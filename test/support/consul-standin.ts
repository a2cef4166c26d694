/**
 * STAND-IN for Consul's HTTP API, for tests only. It is NOT Consul: no Consul binary can be had
 * on these machines (not in Debian, not on npm), so this small server implements the documented
 * v1 endpoints redishappy uses, with Consul's status codes, bodies and JSON shapes as documented in
 * https://developer.hashicorp.com/consul/api-docs (agent/service, agent/check, catalog, health):
 *
 *   PUT /v1/agent/service/register[?replace-existing-checks=true]   200, empty body
 *   PUT /v1/agent/service/deregister/:id                            200 | 404 Unknown service ID
 *   GET /v1/agent/service/:id                                       200 | 404 unknown service ID
 *   GET /v1/agent/services, GET /v1/agent/checks                    200 {id: ...}
 *   PUT /v1/agent/check/{pass,warn,fail}/:check_id[?note=]          200 | 404 Unknown check ID
 *   PUT /v1/agent/check/update/:check_id  {Status, Output}          200 | 400 | 404
 *   PUT /v1/catalog/register   {Node, Address, Datacenter, NodeMeta, Service, SkipNodeUpdate}  200 true | 400 Missing node name ...
 *   PUT /v1/catalog/deregister {Node, ServiceID | CheckID, Datacenter}                          200 true
 *   GET /v1/catalog/service/:name[?tag=&node-meta=k:v], GET /v1/catalog/services[?node-meta=k:v]
 *   GET /v1/catalog/nodes[?node-meta=k:v], GET /v1/catalog/node/:node (200 null when unknown)
 *   GET /v1/health/node/:node, GET /v1/health/service/:name[?passing&tag=]
 *   ?dc= on catalog/health calls (another datacenter: 500 "No path to datacenter")
 *
 * Behaviour it simulates:
 *   - ACLs (opts.token): no token → 403 "Permission denied: anonymous token lacks permission ...",
 *     another token → 403 "ACL not found".
 *   - TTL checks go critical ("TTL expired") when not updated within their TTL, in real time.
 *   - Anti-entropy (runAntiEntropy()): a node that runs an agent only keeps the services its agent
 *     knows, and gets its own address and metadata back; catalog registrations under it are removed.
 *     Nodes with external-node metadata (ESM's convention) are left alone.
 *   - Being down (setDown): connections reset, refused (listener closed), or 500 "No cluster leader".
 *   - Slowness (setDelay), and a log of every request for assertions.
 * The agent's own node is "agent-1" in datacenter "dc1" (opts.datacenter).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StandInService {
  ID: string;
  Service: string;
  Tags: string[];
  Address: string;
  Port: number;
  Meta: Record<string, string>;
}

export interface StandInCheck {
  CheckID: string;
  Name: string;
  Status: 'passing' | 'warning' | 'critical';
  Notes: string;
  Output: string;
  ServiceID: string;
  ServiceName: string;
  TTL?: string;
  DeregisterCriticalServiceAfter?: string;
  timer?: NodeJS.Timeout;
}

export interface StandInNode {
  Node: string;
  Address: string;
  Datacenter: string;
  NodeMeta: Record<string, string>;
  Services: Map<string, StandInService>;
}

export interface RequestRecord {
  method: string;
  path: string;
  query: Record<string, string>;
  body: unknown;
  token: string | undefined;
  at: number;
}

type DownMode = 'reset' | 'refuse' | 'error';

const STATUSES = new Set(['passing', 'warning', 'critical']);
const META_KEY = /^[A-Za-z0-9_-]{1,128}$/;

/** Go's time.ParseDuration for the units Consul accepts; null when invalid. */
export function parseGoDuration(text: string): number | null {
  if (!/^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/.test(text)) return null;
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60000, h: 3600000 };
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)) total += Number(m[1]) * unit[m[2]!]!;
  return total;
}

export class ConsulStandIn {
  readonly requests: RequestRecord[] = [];
  /** Services registered with the stand-in's own agent (node agent-1). */
  readonly agentServices = new Map<string, StandInService>();
  /** The own agent's checks. */
  readonly checks = new Map<string, StandInCheck>();
  /** The catalog: every node with its services. */
  readonly nodes = new Map<string, StandInNode>();
  /** Nodes that run a Consul agent, with their own address (anti-entropy acts on these). */
  readonly agentNodes = new Map<string, string>();
  readonly agentNode = 'agent-1';
  private server: http.Server;
  private down: DownMode | null = null;
  private delayMs = 0;
  private index = 1;
  port = 0;

  constructor(private readonly opts: { token?: string; datacenter?: string } = {}) {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.addAgentNode(this.agentNode, '127.0.0.1');
  }

  get dc(): string {
    return this.opts.datacenter ?? 'dc1';
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Another node of the datacenter that runs a Consul agent (the original registered under such nodes). */
  addAgentNode(name: string, address: string): void {
    this.agentNodes.set(name, address);
    if (!this.nodes.has(name)) this.nodes.set(name, { Node: name, Address: address, Datacenter: this.dc, NodeMeta: {}, Services: new Map() });
  }

  async start(port = 0): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  /**
   * Down: 'reset' (default) resets every connection, 'refuse' closes the listener (connection
   * refused, as when the agent is not running), 'error' answers 500 "No cluster leader".
   */
  async setDown(down: boolean, how: DownMode = 'reset'): Promise<void> {
    const was = this.down;
    this.down = down ? how : null;
    if (down && how === 'refuse' && was !== 'refuse') {
      this.server.closeAllConnections();
      await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
    if (!down && was === 'refuse') {
      this.server = http.createServer((req, res) => void this.handle(req, res));
      await this.start(this.port);
    }
  }

  setDelay(ms: number): void {
    this.delayMs = ms;
  }

  async stop(): Promise<void> {
    for (const c of this.checks.values()) clearTimeout(c.timer);
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Consul's anti-entropy: an agent's node only keeps what its agent knows, with the agent's address. */
  runAntiEntropy(): void {
    for (const [name, address] of this.agentNodes) {
      const node = this.nodes.get(name) ?? { Node: name, Address: address, Datacenter: this.dc, NodeMeta: {}, Services: new Map<string, StandInService>() };
      node.Address = address;
      node.NodeMeta = {};
      node.Services = name === this.agentNode ? new Map(this.agentServices) : new Map();
      this.nodes.set(name, node);
    }
    this.index++;
  }

  count(method: string, prefix: string): number {
    return this.requests.filter((r) => r.method === method && r.path.startsWith(prefix)).length;
  }

  /** What Consul DNS would answer for `[tag.]name.service.consul`: instances whose checks all pass. */
  resolve(name: string, tag?: string): Array<{ node: string; address: string; port: number }> {
    return this.healthEntries(name, tag, true).map((e) => ({ node: e.Node.Node, address: e.Service.Address || e.Node.Address, port: e.Service.Port }));
  }

  private healthEntries(name: string, tag: string | undefined, passingOnly: boolean) {
    const out = [];
    for (const node of this.nodes.values()) {
      for (const svc of node.Services.values()) {
        if (svc.Service !== name || (tag !== undefined && !svc.Tags.includes(tag))) continue;
        const checks = [...this.checks.values()].filter((c) => node.Node === this.agentNode && c.ServiceID === svc.ID);
        const serf = this.agentNodes.has(node.Node) ? [{ CheckID: 'serfHealth', Status: 'passing' }] : [];
        if (passingOnly && checks.some((c) => c.Status !== 'passing')) continue;
        out.push({
          Node: { Node: node.Node, Address: node.Address, Datacenter: node.Datacenter, Meta: node.NodeMeta },
          Service: { ...svc },
          Checks: [...serf, ...checks.map((c) => ({ Node: node.Node, CheckID: c.CheckID, Name: c.Name, Status: c.Status, Notes: c.Notes, Output: c.Output, ServiceID: c.ServiceID, ServiceName: c.ServiceName }))],
        });
      }
    }
    return out;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (this.down === 'reset' || this.down === 'refuse') {
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const url = new URL(req.url ?? '/', 'http://x');
    const raw = Buffer.concat(chunks).toString('utf8');
    const token = req.headers['x-consul-token'] as string | undefined;
    let body: unknown = undefined;
    let bad: string | null = null;
    if (raw) {
      try {
        body = JSON.parse(raw);
      } catch (err) {
        bad = `Request decode failed: ${(err as Error).message}`;
      }
    }
    this.requests.push({ method: req.method ?? '', path: url.pathname, query: Object.fromEntries(url.searchParams), body, token, at: Date.now() });
    // unref: a long delay left pending by a client that gave up must not keep the test process alive.
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs).unref());
    if (this.down === 'error') return this.send(res, 500, 'No cluster leader');
    if (bad) return this.send(res, 400, bad);
    if (this.opts.token && token !== this.opts.token) {
      return this.send(res, 403, token ? 'ACL not found' : 'Permission denied: anonymous token lacks permission');
    }
    const dc = url.searchParams.get('dc');
    if (dc && dc !== this.dc) return this.send(res, 500, 'No path to datacenter');
    try {
      this.route(req.method ?? 'GET', url, body, res);
    } catch (err) {
      this.send(res, 500, (err as Error).message);
    }
  }

  private send(res: http.ServerResponse, status: number, data: unknown): void {
    if (res.destroyed) return;
    const text = typeof data === 'string' ? data : JSON.stringify(data);
    const headers: Record<string, string> = { 'content-type': typeof data === 'string' ? 'text/plain; charset=utf-8' : 'application/json', 'x-consul-index': String(this.index), 'x-consul-knownleader': 'true', 'x-consul-lastcontact': '0' };
    res.writeHead(status, headers);
    res.end(text);
  }

  private armTtl(check: StandInCheck): void {
    clearTimeout(check.timer);
    const ttl = check.TTL ? parseGoDuration(check.TTL) : null;
    if (!ttl) return;
    check.timer = setTimeout(() => {
      check.Status = 'critical';
      check.Output = `TTL expired`;
      this.index++;
    }, ttl);
    check.timer.unref();
  }

  private validMeta(meta: unknown): string | null {
    if (meta === undefined || meta === null) return null;
    if (typeof meta !== 'object' || Array.isArray(meta)) return 'Request decode failed: json: cannot unmarshal into Go struct field Meta of type map[string]string';
    const entries = Object.entries(meta as Record<string, unknown>);
    if (entries.length > 64) return 'Invalid Service Meta: Node metadata cannot contain more than 64 key/value pairs';
    for (const [k, v] of entries) {
      if (typeof v !== 'string') return `Request decode failed: json: cannot unmarshal ${typeof v} into Go value of type string`;
      if (k.startsWith('consul-')) return `Invalid Service Meta: Key prefix 'consul-' is reserved for internal use`;
      if (!META_KEY.test(k)) return `Invalid Service Meta: Key contains invalid characters`;
      if (v.length > 512) return `Invalid Service Meta: Value is too long (limit: 512 characters)`;
    }
    return null;
  }

  private toService(b: Record<string, unknown>, nameKey: 'Name' | 'Service'): StandInService | string {
    if (!b[nameKey]) return 'Missing service name';
    if (b.Port !== undefined && typeof b.Port !== 'number') return `Request decode failed: json: cannot unmarshal ${typeof b.Port} into Go struct field .Port of type int`;
    if (b.Tags !== undefined && b.Tags !== null && !(Array.isArray(b.Tags) && b.Tags.every((t) => typeof t === 'string'))) return 'Request decode failed: json: cannot unmarshal into Go struct field .Tags of type []string';
    const metaProblem = this.validMeta(b.Meta);
    if (metaProblem) return metaProblem;
    return { ID: String(b.ID ?? b[nameKey]), Service: String(b[nameKey]), Tags: (b.Tags as string[] | null) ?? [], Address: String(b.Address ?? ''), Port: (b.Port as number | undefined) ?? 0, Meta: (b.Meta as Record<string, string> | null) ?? {} };
  }

  private route(method: string, url: URL, body: unknown, res: http.ServerResponse): void {
    const p = url.pathname;
    const b = (body ?? {}) as Record<string, unknown>;
    const own = this.nodes.get(this.agentNode)!;
    let m: RegExpExecArray | null;

    // ---- agent: services
    if (method === 'PUT' && p === '/v1/agent/service/register') {
      const svc = this.toService(b, 'Name');
      if (typeof svc === 'string') return this.send(res, 400, svc);
      const check = b.Check as Record<string, unknown> | undefined | null;
      let newCheck: StandInCheck | null = null;
      if (check) {
        if (!check.TTL && !check.HTTP && !check.TCP && !check.Args && !check.GRPC) return this.send(res, 400, 'Invalid check: TTL must be > 0 for TTL checks');
        if (check.TTL !== undefined && !parseGoDuration(String(check.TTL))) return this.send(res, 400, `Request decode failed: time: invalid duration "${String(check.TTL)}"`);
        if (check.DeregisterCriticalServiceAfter !== undefined && !parseGoDuration(String(check.DeregisterCriticalServiceAfter))) return this.send(res, 400, `Request decode failed: time: invalid duration "${String(check.DeregisterCriticalServiceAfter)}"`);
        if (check.Status !== undefined && !STATUSES.has(String(check.Status))) return this.send(res, 400, `Invalid check status: "${String(check.Status)}"`);
        const id = String(check.CheckID ?? `service:${svc.ID}`);
        newCheck = {
          CheckID: id,
          Name: String(check.Name ?? `Service '${svc.Service}' check`),
          Status: (check.Status as StandInCheck['Status'] | undefined) ?? 'critical',
          Notes: String(check.Notes ?? ''),
          Output: '',
          ServiceID: svc.ID,
          ServiceName: svc.Service,
          TTL: check.TTL as string | undefined,
          DeregisterCriticalServiceAfter: check.DeregisterCriticalServiceAfter as string | undefined,
        };
      }
      this.agentServices.set(svc.ID, svc);
      own.Services.set(svc.ID, svc);
      if (url.searchParams.get('replace-existing-checks') === 'true') {
        for (const [cid, c] of this.checks) {
          if (c.ServiceID === svc.ID && cid !== newCheck?.CheckID) {
            clearTimeout(c.timer);
            this.checks.delete(cid);
          }
        }
      }
      if (newCheck) {
        clearTimeout(this.checks.get(newCheck.CheckID)?.timer);
        this.checks.set(newCheck.CheckID, newCheck);
        this.armTtl(newCheck);
      }
      this.index++;
      return this.send(res, 200, '');
    }
    if (method === 'PUT' && (m = /^\/v1\/agent\/service\/deregister\/(.+)$/.exec(p))) {
      const id = decodeURIComponent(m[1]!);
      if (!this.agentServices.delete(id)) return this.send(res, 404, `Unknown service ID "${id}". Ensure that the service ID is passed, not the service name.`);
      own.Services.delete(id);
      for (const [cid, c] of this.checks) {
        if (c.ServiceID === id) {
          clearTimeout(c.timer);
          this.checks.delete(cid);
        }
      }
      this.index++;
      return this.send(res, 200, '');
    }
    if (method === 'GET' && (m = /^\/v1\/agent\/service\/(.+)$/.exec(p))) {
      const id = decodeURIComponent(m[1]!);
      const svc = this.agentServices.get(id);
      if (!svc) return this.send(res, 404, `unknown service ID: ${id}`);
      return this.send(res, 200, { ...svc, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, ContentHash: `h${this.index}`, Datacenter: this.dc });
    }
    if (method === 'GET' && p === '/v1/agent/services') {
      return this.send(res, 200, Object.fromEntries([...this.agentServices].map(([id, s]) => [id, { ...s, Weights: { Passing: 1, Warning: 1 }, EnableTagOverride: false, Datacenter: this.dc }])));
    }

    // ---- agent: checks
    if (method === 'GET' && p === '/v1/agent/checks') {
      return this.send(res, 200, Object.fromEntries([...this.checks].map(([id, c]) => [id, this.checkJson(c)])));
    }
    if (method === 'PUT' && (m = /^\/v1\/agent\/check\/(pass|warn|fail|update)\/(.+)$/.exec(p))) {
      const id = decodeURIComponent(m[2]!);
      const check = this.checks.get(id);
      if (!check) return this.send(res, 404, `Unknown check ID "${id}". Ensure that the check ID is passed, not the check name.`);
      if (m[1] === 'update') {
        if (!STATUSES.has(String(b.Status))) return this.send(res, 400, `Invalid check status: "${String(b.Status ?? '')}"`);
        check.Status = b.Status as StandInCheck['Status'];
        check.Output = String(b.Output ?? '');
      } else {
        check.Status = m[1] === 'pass' ? 'passing' : m[1] === 'warn' ? 'warning' : 'critical';
        check.Output = url.searchParams.get('note') ?? '';
      }
      this.armTtl(check);
      this.index++;
      return this.send(res, 200, '');
    }

    // ---- catalog
    if (method === 'PUT' && p === '/v1/catalog/register') {
      if (!b.Node) return this.send(res, 400, 'Missing node name');
      if (!b.Address) return this.send(res, 400, 'Missing node address');
      if (b.Datacenter && b.Datacenter !== this.dc) return this.send(res, 500, 'No path to datacenter');
      const name = String(b.Node);
      const node = this.nodes.get(name) ?? { Node: name, Address: String(b.Address), Datacenter: this.dc, NodeMeta: {}, Services: new Map<string, StandInService>() };
      let svc: StandInService | null = null;
      if (b.Service) {
        const s = this.toService(b.Service as Record<string, unknown>, 'Service');
        if (typeof s === 'string') return this.send(res, 400, s);
        svc = s;
      }
      if (!b.SkipNodeUpdate) {
        node.Address = String(b.Address);
        node.NodeMeta = (b.NodeMeta as Record<string, string> | null) ?? {};
      }
      if (svc) node.Services.set(svc.ID, svc);
      this.nodes.set(name, node);
      this.index++;
      return this.send(res, 200, true);
    }
    if (method === 'PUT' && p === '/v1/catalog/deregister') {
      if (!b.Node) return this.send(res, 400, 'Missing node name');
      if (b.Datacenter && b.Datacenter !== this.dc) return this.send(res, 500, 'No path to datacenter');
      const node = this.nodes.get(String(b.Node));
      if (node && b.ServiceID) node.Services.delete(String(b.ServiceID));
      else if (node && !b.CheckID) this.nodes.delete(node.Node);
      this.index++;
      return this.send(res, 200, true);
    }
    const nodeMeta = url.searchParams.get('node-meta');
    const [metaKey, metaValue] = nodeMeta ? [nodeMeta.slice(0, nodeMeta.indexOf(':')), nodeMeta.slice(nodeMeta.indexOf(':') + 1)] : [null, null];
    const nodeMatches = (n: StandInNode) => metaKey === null || n.NodeMeta[metaKey] === metaValue;
    if (method === 'GET' && p === '/v1/catalog/services') {
      const out: Record<string, string[]> = {};
      for (const n of this.nodes.values()) {
        if (!nodeMatches(n)) continue;
        for (const s of n.Services.values()) out[s.Service] = [...new Set([...(out[s.Service] ?? []), ...s.Tags])];
      }
      return this.send(res, 200, out);
    }
    if (method === 'GET' && (m = /^\/v1\/catalog\/service\/(.+)$/.exec(p))) {
      const name = decodeURIComponent(m[1]!);
      const tag = url.searchParams.get('tag');
      const out = [];
      for (const node of this.nodes.values()) {
        if (!nodeMatches(node)) continue;
        for (const svc of node.Services.values()) {
          if (svc.Service !== name || (tag !== null && !svc.Tags.includes(tag))) continue;
          out.push({
            ID: '',
            Node: node.Node,
            Address: node.Address,
            Datacenter: node.Datacenter,
            TaggedAddresses: null,
            NodeMeta: node.NodeMeta,
            ServiceID: svc.ID,
            ServiceName: svc.Service,
            ServiceTags: svc.Tags,
            ServiceAddress: svc.Address,
            ServicePort: svc.Port,
            ServiceMeta: svc.Meta,
            ServiceEnableTagOverride: false,
            CreateIndex: 1,
            ModifyIndex: this.index,
          });
        }
      }
      return this.send(res, 200, out);
    }
    if (method === 'GET' && p === '/v1/catalog/nodes') {
      return this.send(res, 200, [...this.nodes.values()].filter(nodeMatches).map((n) => ({ Node: n.Node, Address: n.Address, Datacenter: n.Datacenter, Meta: n.NodeMeta })));
    }
    if (method === 'GET' && (m = /^\/v1\/catalog\/node\/(.+)$/.exec(p))) {
      const node = this.nodes.get(decodeURIComponent(m[1]!));
      if (!node) return this.send(res, 200, null);
      return this.send(res, 200, { Node: { Node: node.Node, Address: node.Address, Datacenter: node.Datacenter, Meta: node.NodeMeta }, Services: Object.fromEntries(node.Services) });
    }

    // ---- health
    if (method === 'GET' && (m = /^\/v1\/health\/node\/(.+)$/.exec(p))) {
      const name = decodeURIComponent(m[1]!);
      const out: unknown[] = [];
      if (this.agentNodes.has(name)) out.push({ Node: name, CheckID: 'serfHealth', Name: 'Serf Health Status', Status: 'passing', Notes: '', Output: 'Agent alive and reachable', ServiceID: '', ServiceName: '' });
      if (name === this.agentNode) out.push(...[...this.checks.values()].map((c) => this.checkJson(c)));
      return this.send(res, 200, out);
    }
    if (method === 'GET' && (m = /^\/v1\/health\/service\/(.+)$/.exec(p))) {
      return this.send(res, 200, this.healthEntries(decodeURIComponent(m[1]!), url.searchParams.get('tag') ?? undefined, url.searchParams.has('passing')));
    }
    return this.send(res, 404, '');
  }

  private checkJson(c: StandInCheck) {
    return { Node: this.agentNode, CheckID: c.CheckID, Name: c.Name, Status: c.Status, Notes: c.Notes, Output: c.Output, ServiceID: c.ServiceID, ServiceName: c.ServiceName, ServiceTags: this.agentServices.get(c.ServiceID)?.Tags ?? [], Type: c.TTL ? 'ttl' : '' };
  }
}
