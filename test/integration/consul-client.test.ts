import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { ConsulClient, ConsulHttpError, ConsulUnreachableError } from '../../src/outputs/consul/client.js';
import { consulSectionSchema, createConsulOutput } from '../../src/outputs/consul/index.js';
import { makeTestCertificates, useCleanup } from '../harness/index.js';

/** The Consul HTTP client against plain Node servers (no Consul behaviour needed here). */
describe('Consul HTTP client', () => {
  const cleanup = useCleanup();

  async function serve(handler: http.RequestListener, tls?: { key: Buffer; cert: Buffer }): Promise<number> {
    const server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.add(
      () =>
        new Promise<void>((r) => {
          server.closeAllConnections();
          server.close(() => r());
        }),
    );
    return (server.address() as AddressInfo).port;
  }

  const cfg = (over: Record<string, unknown>) => consulSectionSchema.parse({ TimeoutMs: 300, ...over });

  it('the deadline covers the whole answer (a server trickling bytes cannot hold a call)', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const t = setInterval(() => res.write(' '), 50);
      res.on('close', () => clearInterval(t));
    });
    const client = new ConsulClient(cfg({ Address: `127.0.0.1:${port}` }));
    // The server never finishes its answer: only the deadline can end the call, and the error says so.
    await assert.rejects(client.request('GET', '/v1/agent/services'), (err: Error) => err instanceof ConsulUnreachableError && /no answer from Consul within 300ms/.test(err.message));
    client.close();
  });

  it('sends the token, JSON, and maps statuses (404 allowed on request, others are errors with the body)', async () => {
    const seen: Array<{ method?: string; url?: string; token?: string; type?: string; body: string }> = [];
    const port = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, token: req.headers['x-consul-token'] as string | undefined, type: req.headers['content-type'], body });
        if (req.url?.startsWith('/missing')) return res.writeHead(404).end('unknown service ID: x');
        if (req.url?.startsWith('/denied')) return res.writeHead(403).end('ACL not found');
        if (req.url?.startsWith('/text')) return res.writeHead(200).end('not json');
        res.writeHead(200, { 'content-type': 'application/json' }).end('true');
      });
    });
    const client = new ConsulClient(cfg({ Address: `http://127.0.0.1:${port}`, Token: 's3cret' }));
    assert.deepEqual(await client.request('PUT', '/v1/catalog/register', { body: { Node: 'n' }, query: { dc: 'dc1', skip: undefined } }), { status: 200, data: true });
    assert.deepEqual(seen[0], { method: 'PUT', url: '/v1/catalog/register?dc=dc1', token: 's3cret', type: 'application/json', body: '{"Node":"n"}' });
    assert.deepEqual(await client.request('GET', '/missing', { allow404: true }), { status: 404, data: null });
    await assert.rejects(client.request('GET', '/missing'), (e: Error) => e instanceof ConsulHttpError && e.status === 404);
    await assert.rejects(client.request('PUT', '/denied'), (e: Error) => e instanceof ConsulHttpError && e.status === 403 && /ACL not found/.test(e.message));
    await assert.rejects(client.request('GET', '/text'), /not JSON/);
    client.close();
    await assert.rejects(client.request('GET', '/v1/agent/services'), /closed/);
  });

  it('connection refused is "unreachable"', async () => {
    const fresh = new ConsulClient(cfg({ Address: '127.0.0.1:1' }));
    await assert.rejects(fresh.request('GET', '/v1/agent/services'), (e: Error) => e instanceof ConsulUnreachableError && /ECONNREFUSED/.test(e.message));
    fresh.close();
  });

  it('https with CaFile; without it the self-signed certificate is refused; an unreadable CaFile refuses start-up', async () => {
    const tls = makeTestCertificates();
    const port = await serve((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}'), { key: readFileSync(tls.keyFile), cert: readFileSync(tls.certFile) });
    const good = new ConsulClient(cfg({ Address: `127.0.0.1:${port}`, Scheme: 'https', CaFile: tls.caFile, TimeoutMs: 2000 }));
    assert.deepEqual((await good.request('GET', '/v1/agent/services')).data, { ok: true });
    good.close();
    const explicit = new ConsulClient(cfg({ Address: `https://localhost:${port}`, CaFile: tls.caFile, TimeoutMs: 2000 }));
    assert.deepEqual((await explicit.request('GET', '/v1/agent/services')).data, { ok: true });
    explicit.close();
    const noCa = new ConsulClient(cfg({ Address: `127.0.0.1:${port}`, Scheme: 'https', TimeoutMs: 2000 }));
    await assert.rejects(noCa.request('GET', '/v1/agent/services'), (e: Error) => e instanceof ConsulUnreachableError && /certificate/i.test(e.message));
    noCa.close();
    const output = createConsulOutput({ config: cfg({ Scheme: 'https', CaFile: '/nonexistent/ca.pem' }), clusterNames: [], logger: pino({ level: 'silent' }) });
    await assert.rejects(output.init!(), /Consul.CaFile: cannot read "\/nonexistent\/ca.pem"/);
    assert.equal(output.status().details?.address, 'https://127.0.0.1:8500', 'status works without the client');
    await output.close();
  });
});
