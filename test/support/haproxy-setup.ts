import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindFailure, freePort, retryOnPortClash, routedTo, startHaproxy, waitFor, type Cleanup, type ClusterFixture, type HaproxyProcess } from '../harness/index.js';
import { ANY_PORT, daemonExited, runBin, waitListening, type DaemonProcess } from './daemon-process.js';
import { FAST_WATCHER } from './watch.js';

/**
 * The original's template with only what needs root removed (chroot, user, group, daemon,
 * /dev/log) and the frontends bound to loopback; the cluster stanza is verbatim.
 */
export function loopbackTemplate(adminSocket: string): string {
  return `global
 stats socket ${adminSocket} level admin
 hard-stop-after 5s

defaults
 mode tcp
 timeout client 60s
 timeout connect 1s
 timeout server 60s
 option tcpka

{{range .Clusters}}
## start cluster {{ .Name }}
frontend ft_{{ .Name }}
 bind 127.0.0.1:{{ .ExternalPort }}
 default_backend bk_{{ .Name }}

backend bk_{{ .Name }}
 server R_{{ .Name }}_1 {{ .Ip }}:{{ .Port }} maxconn 1024 check inter 100ms on-marked-down shutdown-sessions
## end cluster {{ .Name }}\t

{{end}}
`;
}

export interface HaproxySetup {
  dir: string;
  haproxy: HaproxyProcess;
  configPath: string;
  templatePath: string;
  outputPath: string;
  adminSocket: string;
  reloadLog: string;
  /** Frontend ports, from freePort (they must be in the config before HAProxy binds them). */
  externalPorts: Map<string, number>;
  /**
   * A port for the daemon's API from freePort, for callers that pass `-bind 127.0.0.1:${apiPort}`
   * themselves. It may be taken before the daemon binds it: prefer startHaproxyDaemon (API on
   * port 0), whose setup has 0 here (its `api` says where the API is).
   */
  apiPort: number;
}

export interface PrepareHaproxyOptions {
  runtime: boolean;
  extra?: Record<string, unknown>;
  template?: string;
  /** Chooses each frontend port (default freePort); lets a test hand out a taken port. */
  choosePort?: () => Promise<number>;
  /** false: no `apiPort` (0), for a daemon started with `-bind 127.0.0.1:0`. */
  apiPort?: false;
}

/** HAProxy (master-worker) running an empty config, plus a redishappy config file pointing at it. */
export async function prepareHaproxy(cleanup: Cleanup, cluster: ClusterFixture, opts: PrepareHaproxyOptions): Promise<HaproxySetup> {
  const dir = mkdtempSync(join(tmpdir(), 'rh-haproxy-e2e-'));
  const adminSocket = join(dir, 'admin.sock');
  const templatePath = join(dir, 'haproxy_template.cfg');
  const outputPath = join(dir, 'haproxy.cfg');
  const reloadLog = join(dir, 'reloads.log');
  writeFileSync(templatePath, opts.template ?? loopbackTemplate(adminSocket));
  writeFileSync(outputPath, `global\n stats socket ${adminSocket} level admin\n\ndefaults\n mode tcp\n timeout client 60s\n timeout connect 1s\n timeout server 60s\n`);
  const haproxy = await startHaproxy(cleanup, { configPath: outputPath, masterWorker: true });
  const externalPorts = new Map<string, number>();
  for (const name of cluster.names) externalPorts.set(name, await (opts.choosePort ?? freePort)());
  const apiPort = opts.apiPort === false ? 0 : await freePort();
  const configPath = join(dir, 'config.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      Clusters: cluster.names.map((n) => ({ Name: n, ExternalPort: externalPorts.get(n) })),
      Sentinels: [{ Host: cluster.sentinels[0]!.host, Port: cluster.sentinels[0]!.port }],
      Watcher: FAST_WATCHER,
      Syslog: { Enabled: false },
      HAProxy: {
        TemplatePath: templatePath,
        OutputPath: outputPath,
        // master-worker mode: SIGUSR2 to the master reloads; the log line counts reloads.
        ReloadCommand: `echo reload >> ${reloadLog} && kill -USR2 ${haproxy.pid}`,
        ...(opts.runtime ? { RuntimeSocket: adminSocket } : {}),
      },
      ...opts.extra,
    }),
  );
  return { dir, haproxy, configPath, templatePath, outputPath, adminSocket, reloadLog, externalPorts, apiPort };
}

export interface HaproxyDaemon {
  setup: HaproxySetup;
  daemon: DaemonProcess;
  /** The daemon's API, e.g. "http://127.0.0.1:41234" (a port the kernel chose). */
  api: string;
  /** Which try succeeded (1 unless a frontend port was taken and everything was started again). */
  attempt: number;
}

/**
 * prepareHaproxy, then the daemon, its API on a port the kernel picks, until every cluster of
 * `waitRouted` (default: each cluster with a master) routes to its master through HAProxy. If
 * HAProxy cannot bind a frontend port (taken since freePort chose it), HAProxy and the daemon are
 * stopped and everything starts again on new ports (retryOnPortClash).
 */
export async function startHaproxyDaemon(
  cleanup: Cleanup,
  cluster: ClusterFixture,
  opts: PrepareHaproxyOptions & {
    /** Change the prepared files before the daemon starts (same for every attempt). */
    edit?: (setup: HaproxySetup) => void;
    /** How to run the daemon (default: bin/redishappy-haproxy from source); `args` hold -config and -bind. */
    run?: (scope: Cleanup, args: string[]) => DaemonProcess;
    waitRouted?: string[];
    timeoutMs?: number;
    attempts?: number;
  },
): Promise<HaproxyDaemon> {
  return retryOnPortClash(
    cleanup,
    'HAProxy and redishappy',
    async (scope, attempt) => {
      const setup = await prepareHaproxy(scope, cluster, { ...opts, apiPort: false });
      opts.edit?.(setup);
      const args = ['-config', setup.configPath, '-bind', ANY_PORT];
      const daemon = opts.run ? opts.run(scope, args) : runBin(scope, 'redishappy-haproxy', args);
      const api = await waitListening(daemon);
      const ports = [...setup.externalPorts.values()];
      const names = opts.waitRouted ?? cluster.names.filter((n) => cluster.masters.get(n));
      for (const name of names) {
        const master = cluster.masters.get(name)!;
        await waitFor(async () => (await routedTo(setup.externalPorts.get(name)!).catch(() => 0)) === master.port, {
          timeoutMs: opts.timeoutMs ?? 30000,
          what: `HAProxy to route ${name} to its master`,
          stopIf: () => bindFailure(setup.haproxy, ports) ?? daemonExited(daemon),
        });
      }
      return { setup, daemon, api, attempt };
    },
    opts.attempts,
  );
}
