import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startHaproxy, type Cleanup, type ClusterFixture, type HaproxyProcess } from '../harness/index.js';
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
  externalPorts: Map<string, number>;
  apiPort: number;
}

/** HAProxy (master-worker) running an empty config, plus a redishappy config file pointing at it. */
export async function prepareHaproxy(cleanup: Cleanup, cluster: ClusterFixture, opts: { runtime: boolean; extra?: Record<string, unknown>; template?: string }): Promise<HaproxySetup> {
  const dir = mkdtempSync(join(tmpdir(), 'rh-haproxy-e2e-'));
  const adminSocket = join(dir, 'admin.sock');
  const templatePath = join(dir, 'haproxy_template.cfg');
  const outputPath = join(dir, 'haproxy.cfg');
  const reloadLog = join(dir, 'reloads.log');
  writeFileSync(templatePath, opts.template ?? loopbackTemplate(adminSocket));
  writeFileSync(outputPath, `global\n stats socket ${adminSocket} level admin\n\ndefaults\n mode tcp\n timeout client 60s\n timeout connect 1s\n timeout server 60s\n`);
  const haproxy = await startHaproxy(cleanup, { configPath: outputPath, masterWorker: true });
  const externalPorts = new Map<string, number>();
  for (const name of cluster.names) externalPorts.set(name, await freePort());
  const apiPort = await freePort();
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
