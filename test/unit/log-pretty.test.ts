import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogging, LOG_FILE_NAME } from '../../src/log/logger.js';
import { formatRecord, prettyLine, resolveFormat, useColour } from '../../src/log/pretty.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** A console stand-in: a terminal when isTTY, a pipe otherwise. */
function sink(isTTY: boolean): { stream: Writable & { isTTY?: boolean }; text: () => string } {
  let text = '';
  const stream: Writable & { isTTY?: boolean } = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  if (isTTY) stream.isTTY = true;
  return { stream, text: () => text };
}

const failover = { level: 30, time: '2026-01-02T03:04:05.678Z', pid: 42, hostname: 'h', configEpoch: 7, to: '127.0.0.1:6381', from: '127.0.0.1:6380', cluster: 'testing', msg: 'failover: new master confirmed' };

describe('readable console log lines', () => {
  it('auto is readable on a terminal and JSON otherwise; json and pretty force their format', () => {
    assert.deepEqual(
      (['auto', 'json', 'pretty'] as const).flatMap((f) => [true, false].map((tty) => `${f}/${tty}:${resolveFormat(f, tty)}`)),
      ['auto/true:pretty', 'auto/false:json', 'json/true:json', 'json/false:json', 'pretty/true:pretty', 'pretty/false:pretty'],
    );
    assert.equal(useColour(true, {}), true);
    assert.equal(useColour(false, {}), false);
    assert.equal(useColour(true, { NO_COLOR: '1' }), false);
  });

  it('shows time, level, message, then the key fields in a fixed order, then the rest; pid and hostname left out', () => {
    const line = formatRecord(failover, false);
    const d = new Date(failover.time);
    const hh = String(d.getHours()).padStart(2, '0');
    assert.equal(line, `${hh}:${String(d.getMinutes()).padStart(2, '0')}:05.678 INFO  >>> failover: new master confirmed cluster=testing from=127.0.0.1:6380 to=127.0.0.1:6381 configEpoch=7`);
    assert.equal(formatRecord({ level: 40, time: failover.time, msg: 'sentinel is down', reason: 'connection refused', sentinel: 'h:1', keeping: null }, false).slice(13), 'WARN  sentinel is down sentinel=h:1 reason="connection refused"');
  });

  it('the failover line stands out: a marker always, bold colour on a terminal; other lines carry no marker', () => {
    // eslint-disable-next-line no-control-regex
    assert.match(formatRecord(failover, true), /\u001b\[1;36m>>> failover: new master confirmed\u001b\[0m/);
    assert.ok(!formatRecord({ ...failover, msg: 'master confirmed' }, false).includes('>>>'));
    assert.ok(!formatRecord({ ...failover, msg: 'master confirmed' }, false).includes('\u001b'), 'no colour codes when colour is off');
  });

  it('escapes control characters from values and messages (a hostile host name cannot drive the terminal), shows an error by its message', () => {
    const line = formatRecord({ level: 50, time: failover.time, msg: 'bad\u001b[2Jthing', sentinel: 'evil\u001b[31m', err: { type: 'Error', message: 'ECONNREFUSED 1.2.3.4:5', stack: 'Error: at x' } }, false);
    assert.ok(!line.includes('\u001b'), JSON.stringify(line));
    assert.match(line, /ERROR bad\\u001b\[2Jthing sentinel="evil\\u001b\[31m" err="ECONNREFUSED 1\.2\.3\.4:5"$/);
    assert.equal(prettyLine('not json', false), 'not json\n');
  });

  it('createLogging: readable on a terminal, JSON on a pipe and with format json, secrets redacted either way', () => {
    const tty = sink(true);
    const logging = createLogging({ level: 'info', destination: tty.stream });
    logging.logger.warn({ sentinel: 'h:1', password: 'hunter2', config: { Consul: { Token: 'tok-123' } } }, 'sentinel is down');
    logging.close();
    const plain = tty.text().replace(ANSI, '');
    assert.match(plain, /^\d\d:\d\d:\d\d\.\d{3} WARN {2}sentinel is down sentinel=h:1 password=<redacted> config=\{"Consul":\{"Token":"<redacted>"\}\}\n$/);
    assert.ok(!tty.text().includes('hunter2') && !tty.text().includes('tok-123'));

    for (const [isTTY, format] of [[false, undefined], [true, 'json']] as const) {
      const out = sink(isTTY);
      const l = createLogging({ level: 'info', destination: out.stream, format });
      l.logger.info({ password: 'hunter2' }, 'hello');
      l.close();
      const rec = JSON.parse(out.text()) as Record<string, unknown>;
      assert.equal(rec.msg, 'hello', `isTTY ${isTTY}, format ${format}`);
      assert.equal(rec.password, '<redacted>');
    }

    const piped = sink(false);
    const forced = createLogging({ level: 'info', destination: piped.stream, format: 'pretty' });
    forced.logger.info({ cluster: 'testing' }, 'hello');
    forced.close();
    assert.match(piped.text(), /^\d\d:\d\d:\d\d\.\d{3} INFO {2}hello cluster=testing\n$/, 'pretty forced on a pipe: readable, no colour');
  });

  it('the log file stays JSON when the console is readable', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rh-pretty-'));
    try {
      const tty = sink(true);
      const logging = createLogging({ level: 'info', destination: tty.stream, logDir: dir });
      logging.logger.info({ cluster: 'testing' }, 'master confirmed');
      logging.close();
      const file = join(dir, LOG_FILE_NAME);
      const deadline = Date.now() + 5000;
      while (!(existsSync(file) && readFileSync(file, 'utf8').includes('\n')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.equal((JSON.parse(readFileSync(file, 'utf8').split('\n')[0]!) as Record<string, unknown>).msg, 'master confirmed');
      assert.match(tty.text().replace(ANSI, ''), / INFO {2}master confirmed cluster=testing\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
