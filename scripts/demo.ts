/**
 * Live local demo: 1 Redis master, 1 replica, 3 sentinels, HAProxy (master-worker mode) and
 * redishappy-haproxy, all on 127.0.0.1, all started as child processes and stopped on Ctrl-C
 * (or SIGTERM), which ends the demo with exit code 0 once every one of them has exited.
 * The first line it prints is the status page's address.
 *   npm run demo               run until Ctrl-C
 *   npm run demo -- --smoke    also fail over once and check HAProxy follows (used by the tests, which then stop it with SIGINT)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bindFailure, Cleanup, freePort, retryOnPortClash, routedTo, startCluster, startHaproxy, waitFor, type ManagedProcess } from '../test/harness/index.js';
import { loopbackTemplate } from '../test/support/haproxy-setup.js';

const smoke = process.argv.includes('--smoke');
const root = fileURLToPath(new URL('..', import.meta.url));

/** What the demo started, in order; stopped in reverse order, each one named when it has exited. */
type Stoppable = Pick<ManagedProcess, 'name' | 'pid' | 'running' | 'stop'>;

/**
 * A port from freePort, held open by the demo until `release()`: nothing else can take it while the
 * cluster starts (seconds); only the moment between release and the daemon's bind is left, and
 * retryOnPortClash covers that.
 */
async function reservePort(prefer?: number): Promise<{ port: number; release(): Promise<void> }> {
  for (let i = 0; ; i++) {
    const port = i === 0 && prefer ? prefer : await freePort();
    const server = net.createServer();
    const held = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (held) return { port, release: () => new Promise<void>((resolve) => server.close(() => resolve())) };
  }
}

/** redishappy-haproxy with its log on our stdout (readable lines) and its stderr kept to explain an early exit. */
function startDaemon(config: string, apiPort: number): Stoppable & { child: ChildProcess; stderr(): string } {
  const child = spawn(process.execPath, [join(root, 'bin/redishappy-haproxy.js'), '-config', config, '-bind', `127.0.0.1:${apiPort}`, '--log-format', 'pretty'], { stdio: ['ignore', 'inherit', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    process.stderr.write(d);
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name: 'redishappy-haproxy',
    child,
    get pid() {
      return child.pid;
    },
    get running() {
      return running();
    },
    stderr: () => stderr,
    async stop() {
      if (!running()) return;
      const force = setTimeout(() => child.kill('SIGKILL'), 10000);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(force);
    },
  };
}

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  const started: Stoppable[][] = [];
  let dir = '';
  let stopping: Promise<never> | null = null;
  const stop = (code: number, why?: string): Promise<never> =>
    (stopping ??= (async () => {
      console.log(`\n${why ?? 'stopping the demo'}: stopping everything it started ...`);
      // The daemon first (it would see the rest go), then HAProxy, the sentinels (so they start no
      // failover), the replicas and the master last.
      let count = 0;
      for (const group of [...started].reverse()) {
        await Promise.all(
          group.map(async (p) => {
            const pid = p.pid;
            await p.stop();
            count++;
            console.log(`  stopped ${p.name} (pid ${pid})`);
          }),
        );
      }
      // Whatever a start in progress had spawned but not yet handed over.
      await cleanup.run();
      console.log(`demo stopped: ${count} processes stopped${dir ? `, its files are kept in ${dir}` : ''}. Goodbye.`);
      process.exit(code);
    })());
  process.on('SIGINT', () => void stop(0, 'Ctrl-C'));
  process.on('SIGTERM', () => void stop(0, 'SIGTERM'));

  try {
    // The status page's address comes first: open it now and watch everything below happen.
    let api = await reservePort();
    console.log(`Status page: http://127.0.0.1:${api.port}/   (live in a few seconds, once redishappy has started)\n`);
    dir = mkdtempSync(join(tmpdir(), 'redishappy-demo-'));
    console.log(`starting Redis master + replica and 3 sentinels (files in ${dir}) ...`);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const replica = cluster.replicas.get('testing')![0]!;
    started.push([master], [replica], cluster.sentinels);

    // The original's template, minus what needs root (chroot, user, daemon, /dev/log), bound to loopback.
    const template = join(dir, 'haproxy_template.cfg');
    writeFileSync(template, loopbackTemplate(`${dir}/haproxy-admin.sock`));
    const output = join(dir, 'haproxy.cfg');
    writeFileSync(output, `global\n stats socket ${dir}/haproxy-admin.sock level admin\n\ndefaults\n mode tcp\n timeout client 60s\n timeout connect 1s\n timeout server 60s\n`);
    const haproxy = await startHaproxy(cleanup, { configPath: output, masterWorker: true });
    started.push([haproxy]);

    // HAProxy binds the external port only when redishappy first reloads it, and the daemon binds the
    // API port as it starts: both chosen in advance, so a port taken in between starts it again on new ones.
    const config = join(dir, 'config.json');
    // Filled as soon as a daemon is spawned, so a Ctrl-C while it starts names it too.
    const daemonSlot: Stoppable[] = [];
    started.push(daemonSlot);
    const { daemon, externalPort } = await retryOnPortClash(cleanup, 'the demo', async (scope, attempt) => {
      if (attempt > 1) {
        // The page keeps its address unless its own port was the one taken.
        const before = api.port;
        api = await reservePort(before);
        if (api.port !== before) console.log(`a port was taken meanwhile; the status page moves to: http://127.0.0.1:${api.port}/`);
      }
      const external = await reservePort();
      writeFileSync(
        config,
        JSON.stringify(
          {
            Clusters: [{ Name: 'testing', ExternalPort: external.port }],
            Sentinels: [{ Host: cluster.sentinels[0]!.host, Port: cluster.sentinels[0]!.port }],
            HAProxy: {
              TemplatePath: template,
              OutputPath: output,
              // HAProxy master-worker mode: SIGUSR2 to the master reloads it without dropping connections.
              ReloadCommand: `kill -USR2 ${haproxy.pid}`,
              RuntimeSocket: `${dir}/haproxy-admin.sock`,
            },
            Syslog: { Enabled: false },
          },
          null,
          2,
        ),
      );
      await external.release();
      await api.release();
      console.log('starting redishappy-haproxy ...');
      const d = startDaemon(config, api.port);
      daemonSlot[0] = d;
      scope.add(() => d.stop());
      await waitFor(async () => (await routedTo(external.port)) === master.port, {
        timeoutMs: 20000,
        what: 'HAProxy to route to the master',
        stopIf: () => bindFailure(haproxy, [external.port]) ?? (d.running ? undefined : `redishappy-haproxy exited (${d.child.exitCode ?? d.child.signalCode}): ${d.stderr()}`),
      });
      return { daemon: d, externalPort: external.port };
    });
    daemon.child.once('exit', (code, signal) => void stop(1, `redishappy-haproxy exited (${code ?? signal})`));

    const s = cluster.sentinels[0]!;
    console.log(`
redishappy demo is running.

  Status page:      http://127.0.0.1:${api.port}/   (open it in a browser, then fail over as below)
  API:              http://127.0.0.1:${api.port}/api/topology   (also /api/sentinels, /api/haproxy, /api/ping)
  Redis via HAProxy: redis-cli -p ${externalPort} set hello world      (lands on the confirmed master)
  Master now:       127.0.0.1:${master.port} (pid ${master.pid}); replica 127.0.0.1:${replica.port}
  Fail over:        redis-cli -p ${s.port} SENTINEL FAILOVER testing
               or   kill -9 ${master.pid}     (then watch /api/topology and redis-cli -p ${externalPort} info server)
  Files:            ${dir}   (config.json, haproxy_template.cfg, haproxy.cfg)

Ctrl-C stops everything the demo started.
`);

    if (smoke) {
      await s.client().call('SENTINEL', 'FAILOVER', 'testing');
      await waitFor(async () => (await routedTo(externalPort)) === replica.port, { timeoutMs: 30000, what: 'HAProxy to route to the new master' });
      console.log(`smoke: failover followed, HAProxy now routes to 127.0.0.1:${replica.port}`);
    }
  } catch (err) {
    // A Ctrl-C during start-up makes the waits above fail (the children got it too): not a failure.
    if (stopping) return;
    console.error(`demo failed: ${(err as Error).message}`);
    await stop(1, 'the demo failed');
  }
}

void main();
