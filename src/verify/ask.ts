import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, type ConnectionOptions } from 'node:tls';
import RedisParser from 'redis-parser';
import type { ConnectSettings } from '../sentinel/connection.js';
import { identityOf } from './identity.js';
import type { Failure, Identity } from './types.js';

/**
 * Who answers at host:port: a NEW connection each time (a client arriving now is what we check;
 * a kept connection would stay on the instance it first reached), authenticated as the ROLE probe
 * does, asked ROLE and INFO server, closed. Bounded by the settings' timeout.
 *
 * A bare socket and the RESP parser ioredis itself uses, not a whole ioredis client: the checks
 * run every few hundred milliseconds with many clusters, and a client object per check (its
 * options, queues, timers and event handlers, made and thrown away) was the largest part of an
 * idle daemon's CPU with 1,000 clusters. The commands go in one write; each has at most three
 * words, so a server that wants a password answers NOAUTH rather than a protocol error.
 */
export function askIdentity(host: string, port: number, settings: ConnectSettings, tls: ConnectionOptions | undefined): Promise<Identity | Failure> {
  const { username, password } = settings.credentials;
  const commands: string[][] = [];
  if (password !== undefined && password !== '') commands.push(username ? ['AUTH', username, password] : ['AUTH', password]);
  commands.push(['ROLE'], ['INFO', 'server']);
  return new Promise((resolve) => {
    const replies: unknown[] = [];
    let done = false;
    const finish = (result: Identity | Failure) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const onReply = (reply: unknown) => {
      replies.push(reply);
      if (replies.length < commands.length) return;
      // A refused AUTH is the reason to report (ROLE then says NOAUTH, which hides it).
      const failed = replies.find((r): r is Error => r instanceof Error);
      if (failed) return finish({ error: failed.message });
      const [role, info] = replies.slice(-2);
      finish(identityOf(role, String(info)));
    };
    const parser = new RedisParser({
      returnReply: onReply,
      returnError: onReply,
      returnFatalError: (err: Error) => finish({ error: `unexpected reply: ${err.message}` }),
    });
    const timer = setTimeout(() => finish({ error: `no answer within ${settings.timeoutMs}ms` }), settings.timeoutMs);
    const onUp = () => socket.write(commands.map(encode).join(''));
    const socket: Socket = tls ? connectTls({ ...tls, host, port }, onUp) : connectTcp({ host, port, noDelay: true }, onUp);
    socket.on('data', (chunk: Buffer) => parser.execute(chunk));
    socket.on('error', (err: Error) => finish({ error: err.message }));
    socket.on('close', () => finish({ error: 'connection closed before the answers' }));
  });
}

/** One command as a RESP array of bulk strings. */
function encode(words: string[]): string {
  return `*${words.length}\r\n${words.map((w) => `$${Buffer.byteLength(w)}\r\n${w}\r\n`).join('')}`;
}
