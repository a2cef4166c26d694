import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { createLogging } from '../../src/log/logger.js';
import { formatLine, severityOf } from '../../src/log/syslog.js';
import { Writable } from 'node:stream';

describe('syslog', () => {
  it('maps pino levels to real syslog severities', () => {
    assert.deepEqual([60, 50, 40, 30, 20].map(severityOf), [2, 3, 4, 6, 7]);
    assert.deepEqual(formatLine('{"level":40,"time":1,"msg":"sentinel is down","sentinel":"h:1"}'), { level: 40, text: 'sentinel is down sentinel=h:1' });
  });

  it('sends warnings and errors (not info) to a UDP syslog receiver with the right priority, secrets redacted', async () => {
    const server = dgram.createSocket('udp4');
    server.bind(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const received: string[] = [];
    server.on('message', (m) => received.push(m.toString()));
    const output = new Writable({ write: (_c, _e, cb) => cb() });
    const logging = createLogging({ level: 'info', destination: output, syslog: { Enabled: true, Address: `udp://127.0.0.1:${port}`, Facility: 'local0', Tag: 'rh-test', Level: 'warn' } });
    logging.logger.info('just info');
    logging.logger.warn({ sentinel: 'h:1', password: 'hunter2' }, 'sentinel is down');
    logging.logger.error('apply failed');
    const deadline = Date.now() + 5000;
    while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    logging.close();
    server.close();
    assert.equal(received.length, 2, received.join('\n'));
    // local0 = 16: warning = 16*8+4 = 132, err = 131.
    assert.match(received[0]!, /^<132>\w{3} [ \d]\d \d\d:\d\d:\d\d \S+ rh-test\[\d+\]: sentinel is down sentinel=h:1/);
    assert.ok(!received[0]!.includes('hunter2'));
    assert.match(received[1]!, /^<131>.*apply failed/);
  });
});
