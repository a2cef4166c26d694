import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nginxHead, startNginx, NGINX, type Cleanup, type NginxProcess } from '../harness/index.js';

const EXAMPLE = new URL('../../examples/nginx/nginx_stream_template.conf', import.meta.url);

function replaceOnce(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`the shipped nginx example no longer contains ${JSON.stringify(from)}`);
  return text.replace(from, to);
}

/** The shipped example template with its pid file and error log moved into `dir` and listening on loopback. */
export function exampleNginxTemplate(dir: string): string {
  let t = readFileSync(EXAMPLE, 'utf8');
  t = replaceOnce(t, 'pid /run/nginx-redis.pid;', `pid ${join(dir, 'nginx.pid')};`);
  t = replaceOnce(t, 'error_log /var/log/nginx/redis-error.log warn;', `error_log ${join(dir, 'error.log')} warn;`);
  t = replaceOnce(t, 'listen {{.ExternalPort}};', 'listen 127.0.0.1:{{.ExternalPort}};');
  return t;
}

export interface NginxSetup {
  dir: string;
  nginx: NginxProcess;
  templatePath: string;
  outputPath: string;
  reloadLog: string;
  /** One entry of the Templates section driving this nginx. */
  entry: Record<string, unknown>;
}

/** nginx running a config with no stream servers yet, and a Templates entry that drives it. */
export async function prepareNginx(cleanup: Cleanup, opts: { name?: string; template?: (dir: string) => string } = {}): Promise<NginxSetup> {
  const dir = mkdtempSync(join(tmpdir(), 'rh-nginx-e2e-'));
  const templatePath = join(dir, 'nginx_stream_template.conf');
  const outputPath = join(dir, 'nginx.conf');
  const reloadLog = join(dir, 'reloads.log');
  writeFileSync(templatePath, (opts.template ?? exampleNginxTemplate)(dir));
  writeFileSync(outputPath, `${nginxHead(dir)}stream {\n}\n`);
  const nginx = await startNginx(cleanup, { configPath: outputPath, dir });
  const flags = `-p ${dir} -e ${join(dir, 'error.log')}`;
  return {
    dir,
    nginx,
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
