#!/usr/bin/env node
// Reload HAProxy through its master CLI socket (master-worker mode), without root or sudo:
//   haproxy-reload [/run/haproxy-master.sock]
// HAProxy 2.6 answers only after the client half-closes, and prints nothing for `reload`.
import net from 'node:net';

const socket = process.argv[2] ?? '/run/haproxy-master.sock';
const conn = net.connect(socket);
const timer = setTimeout(() => {
  console.error(`no answer from ${socket}`);
  process.exit(1);
}, 5000);
conn.on('connect', () => conn.end('reload\n'));
conn.on('data', (d) => process.stdout.write(d));
conn.on('error', (err) => {
  console.error(`cannot reach the HAProxy master socket ${socket}: ${err.message}`);
  process.exit(1);
});
conn.on('close', () => {
  clearTimeout(timer);
  process.exit(0);
});
