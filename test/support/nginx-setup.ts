import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindFailure, freePort, nginxHead, retryOnPortClash, routedTo, startNginx, waitFor, NGINX, type Cleanup, type ClusterFixture, type NginxProcess } from '../harness/index.js';
import { ANY_PORT, daemonExited, runBin, waitListening, type DaemonProcess } from './daemon-process.js';
import { FAST_WATCHER } from './watch.js';

const EXAMPLE = new URL('../../examples/nginx/nginx_stream_template.conf', import.meta.url);

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the shipped nginx example no longer contains ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

/** The shipped example template with its pid file and error log moved into `dir` and listening on loopback. */
export function exampleNginxTemplate(dir: string): string {
  let t = readFileSync(EXAMPLE, 'utf8');
  t = replaceOnce(t, 'pid /run/redishappy/nginx-redis.pid;', `pid ${join(dir, 'nginx.pid')};`);
  t = replaceOnce(t, 'error_log stderr warn;', `error_log ${join(dir, 'error.log')} warn;`);
  t = replaceOnce(t, 'listen {{.ExternalPort}};', 'listen 127.0.0.1:{{.ExternalPort}};');
  return t;
}

export interface NginxFiles {
  dir: string;
  templatePath: string;
  outputPath: string;
  reloadLog: string;
  /** One entry of the Templates section driving an nginx started with `-c outputPath`. */
  entry: Record<string, unknown>;
}

export interface NginxSetup extends NginxFiles {
  nginx: NginxProcess;
}

/**
 * A directory with the template and a Templates entry for an nginx that is NOT started and whose
 * output file does not exist yet (a first install); start it later with startNginx(outputPath, dir).
 */
export function nginxFiles(opts: { name?: string; template?: (dir: string) => string } = {}): NginxFiles {
  const dir = mkdtempSync(join(tmpdir(), 'rh-nginx-e2e-'));
  const templatePath = join(dir, 'nginx_stream_template.conf');
  const outputPath = join(dir, 'nginx.conf');
  const reloadLog = join(dir, 'reloads.log');
  writeFileSync(templatePath, (opts.template ?? exampleNginxTemplate)(dir));
  const flags = `-p ${dir} -e ${join(dir, 'error.log')}`;
  return {
    dir,
    templatePath,
    outputPath,
    reloadLog,
    entry: {
      Name: opts.name ?? 'nginx',
      TemplatePath: templatePath,
      OutputPath: outputPath,
      ValidateCommand: `${NGINX} -t -q ${flags} -c {file}`,
      ReloadCommand: `echo reload >> ${reloadLog} && ${NGINX} -s reload ${flags} -c ${outputPath}`,
    },
  };
}

/** nginx running a config with no stream servers yet, and a Templates entry that drives it. */
export async function prepareNginx(cleanup: Cleanup, opts: { name?: string; template?: (dir: string) => string } = {}): Promise<NginxSetup> {
  const files = nginxFiles(opts);
  writeFileSync(files.outputPath, `${nginxHead(files.dir)}stream {\n}\n`);
  const nginx = await startNginx(cleanup, { configPath: files.outputPath, dir: files.dir });
  return { ...files, nginx };
}

export interface NginxDaemon {
  ng: NginxSetup;
  daemon: DaemonProcess;
  /** The daemon's API, on a port the kernel chose. */
  api: string;
  /** nginx's listening port for the cluster (ExternalPort). */
  ext: number;
  configPath: string;
  /** Which try succeeded (see retryOnPortClash). */
  attempt: number;
}

/**
 * nginx (prepareNginx) driven by `bin/redishappy` for one cluster of `cluster` (its first
 * sentinel), the API on a port the kernel picks, until nginx routes the cluster to its master.
 * ExternalPort comes from freePort (nginx must be told it); if nginx cannot bind it on the reload
 * (taken meanwhile), nginx and the daemon are stopped and everything starts again on a new port.
 */
export async function startNginxDaemon(
  cleanup: Cleanup,
  cluster: ClusterFixture,
  opts: {
    name?: string;
    /** Change the daemon's configuration before it starts; `ng` is this attempt's nginx. */
    edit?: (config: Record<string, unknown>, ng: NginxSetup) => void;
    choosePort?: () => Promise<number>;
    timeoutMs?: number;
    attempts?: number;
  } = {},
): Promise<NginxDaemon> {
  const name = opts.name ?? cluster.names[0]!;
  return retryOnPortClash(
    cleanup,
    'nginx and redishappy',
    async (scope, attempt) => {
      const ng = await prepareNginx(scope);
      const ext = await (opts.choosePort ?? freePort)();
      const config: Record<string, unknown> = {
        Clusters: [{ Name: name, ExternalPort: ext }],
        Sentinels: [{ Host: cluster.sentinels[0]!.host, Port: cluster.sentinels[0]!.port }],
        Watcher: FAST_WATCHER,
        Syslog: { Enabled: false },
        Templates: [ng.entry],
      };
      opts.edit?.(config, ng);
      const configPath = join(ng.dir, 'config.json');
      writeFileSync(configPath, JSON.stringify(config));
      const daemon = runBin(scope, 'redishappy', ['-config', configPath, '-bind', ANY_PORT]);
      const api = await waitListening(daemon);
      const master = cluster.masters.get(name)!;
      await waitFor(async () => (await routedTo(ext).catch(() => 0)) === master.port, {
        timeoutMs: opts.timeoutMs ?? 30000,
        what: `nginx to route ${name} to its master`,
        stopIf: () => bindFailure(ng.nginx, [ext]) ?? daemonExited(daemon),
      });
      return { ng, daemon, api, ext, configPath, attempt };
    },
    opts.attempts,
  );
}
