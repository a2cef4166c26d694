/**
 * Live local demo: 1 Redis master, 1 replica, 3 sentinels, HAProxy (master-worker mode) and
 * redishappy-haproxy, all on 127.0.0.1, all started as child processes and stopped on Ctrl-C.
 * The first line it prints is the status page's address.
 *   npm run demo               run until Ctrl-C
 *   npm run demo -- --smoke    fail over once, check HAProxy follows, exit (used by the tests)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Cleanup, routedTo, freePort, startCluster, startHaproxy, waitFor } from '../test/harness/index.js';
import { loopbackTemplate } from '../test/support/haproxy-setup.js';

const smoke = process.argv.includes('--smoke');
const root = fileURLToPath(new URL('..', import.meta.url));

async function main(): Promise<void> {
  const cleanup = new Cleanup();
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nstopping the demo processes...');
    await cleanup.run();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  try {
    // The status page's address comes first: open it now and watch everything below happen.
    const apiPort = await freePort();
    console.log(`Status page: http://127.0.0.1:${apiPort}/   (live in a few seconds, once redishappy has started)\n`);
    const dir = mkdtempSync(join(tmpdir(), 'redishappy-demo-'));
    console.log(`starting Redis master + replica and 3 sentinels (files in ${dir}) ...`);
    const cluster = await startCluster(cleanup, { names: ['testing'], replicas: 1, sentinels: 3 });
    const master = cluster.masters.get('testing')!;
    const externalPort = await freePort();

    // The original's template, minus what needs root (chroot, user, daemon, /dev/log), bound to loopback.
    const template = join(dir, 'haproxy_template.cfg');
    writeFileSync(template, loopbackTemplate(`${dir}/haproxy-admin.sock`));
    const output = join(dir, 'haproxy.cfg');
    writeFileSync(output, `global\n stats socket ${dir}/haproxy-admin.sock level admin\n\ndefaults\n mode tcp\n timeout client 60s\n timeout connect 1s\n timeout server 60s\n`);
    const haproxy = await startHaproxy(cleanup, { configPath: output, masterWorker: true });

    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify(
        {
          Clusters: [{ Name: 'testing', ExternalPort: externalPort }],
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

    console.log('starting redishappy-haproxy ...');
    const daemon = spawn(process.execPath, [join(root, 'bin/redishappy-haproxy.js'), '-config', config, '-bind', `127.0.0.1:${apiPort}`], { stdio: ['ignore', 'inherit', 'inherit'] });
    cleanup.add(
      () =>
        new Promise<void>((resolve) => {
          if (daemon.exitCode !== null) return resolve();
          daemon.once('exit', () => resolve());
          daemon.kill('SIGTERM');
        }),
    );
    daemon.once('exit', (code) => {
      if (!stopping) {
        console.error(`redishappy-haproxy exited (${code})`);
        void stop(1);
      }
    });

    await waitFor(async () => (await routedTo(externalPort)) === master.port, { timeoutMs: 20000, what: 'HAProxy to route to the master' });
    const s = cluster.sentinels[0]!;
    console.log(`
redishappy demo is running.

  Status page:      http://127.0.0.1:${apiPort}/   (open it in a browser, then fail over as below)
  API:              http://127.0.0.1:${apiPort}/api/topology   (also /api/sentinels, /api/haproxy, /api/ping)
  Redis via HAProxy: redis-cli -p ${externalPort} set hello world      (lands on the confirmed master)
  Master now:       127.0.0.1:${master.port} (pid ${master.pid}); replica 127.0.0.1:${cluster.replicas.get('testing')![0]!.port}
  Fail over:        redis-cli -p ${s.port} SENTINEL FAILOVER testing
               or   kill -9 ${master.pid}     (then watch /api/topology and redis-cli -p ${externalPort} info server)
  Files:            ${dir}   (config.json, haproxy_template.cfg, haproxy.cfg)

Ctrl-C stops everything the demo started.
`);

    if (smoke) {
      const replica = cluster.replicas.get('testing')![0]!;
      await s.client().call('SENTINEL', 'FAILOVER', 'testing');
      await waitFor(async () => (await routedTo(externalPort)) === replica.port, { timeoutMs: 30000, what: 'HAProxy to route to the new master' });
      console.log(`smoke: failover followed, HAProxy now routes to 127.0.0.1:${replica.port}`);
      await stop(0);
    }
  } catch (err) {
    console.error(`demo failed: ${(err as Error).message}`);
    await stop(1);
  }
}

void main();
