import { Command, Option } from 'commander';
import type { Flavour } from '../config/load.js';

export interface CliOptions {
  config: string;
  log?: string;
  bind?: string;
  logLevel: string;
  checkConfig: boolean;
}

const LONG_FLAGS = ['config', 'log', 'bind', 'log-level', 'check-config', 'help', 'version'];

/**
 * The original used Go's flag package, where "-config x", "-config=x" and "--config x" are all the
 * same flag. Commander treats "-config" as bundled short flags, so rewrite single-dash long flags first.
 */
export function normalizeGoFlags(argv: readonly string[]): string[] {
  const out: string[] = [];
  let passthrough = false;
  for (const arg of argv) {
    if (passthrough || arg === '--') {
      passthrough = true;
      out.push(arg);
      continue;
    }
    const m = /^-([a-zA-Z][a-zA-Z-]+)(=.*)?$/.exec(arg);
    if (m && LONG_FLAGS.includes(m[1]!)) out.push(`--${m[1]}${m[2] ?? ''}`);
    else out.push(arg);
  }
  return out;
}

const TITLES: Record<Flavour, { name: string; summary: string }> = {
  haproxy: { name: 'redishappy-haproxy', summary: 'Keep HAProxy pointed at the confirmed Redis master of each Sentinel-monitored cluster.' },
  consul: { name: 'redishappy-consul', summary: 'Keep a Consul service entry per Redis cluster pointing at its confirmed master.' },
  auto: { name: 'redishappy', summary: 'Watch Redis Sentinels and publish each cluster\'s confirmed master to the outputs configured (HAProxy and/or Consul sections).' },
};

export function buildCommand(flavour: Flavour, version: string): Command {
  const t = TITLES[flavour];
  const cmd = new Command(t.name)
    .description(
      `${t.summary}\n\nA master is presented only once Sentinel has confirmed it: the sentinel view with the highest\nconfig-epoch names it and the instance itself answers ROLE as master. An old master that comes\nback announcing itself as master is never presented.`,
    )
    .version(version, '-v, --version', 'print the version and exit')
    .addOption(new Option('-c, --config <file>', 'JSON configuration file (the original redishappy format)').default('config.json'))
    .addOption(new Option('-l, --log <dir>', 'also write logs to <dir>/redis-happy.log'))
    .addOption(new Option('-b, --bind <addr>', 'API listen address: :8000, 127.0.0.1:8000, [::1]:8000 or /path.sock (env: BIND, GOJI_BIND, PORT)'))
    .addOption(new Option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info').env('REDISHAPPY_LOG_LEVEL'))
    .addOption(new Option('--check-config', 'validate the configuration (file + REDISHAPPY_* variables) and exit').default(false))
    .helpOption('-h, --help', 'show this help')
    .addHelpText(
      'after',
      `
Flags also work in the original's Go style: -config file.json, -config=file.json, -log dir, -bind :8000.

Environment (non-empty values override the file):
  REDISHAPPY_CLUSTERS=name:port;name:port       replaces Clusters (Name = Sentinel master name, port = ExternalPort)
  REDISHAPPY_SENTINELS=host:port;[::1]:26379    replaces Sentinels
  REDISHAPPY_HAPROXY_TEMPLATE_PATH, REDISHAPPY_HAPROXY_OUTPUT_PATH, REDISHAPPY_HAPROXY_RELOAD_CMD
  REDISHAPPY_LOG_LEVEL                          same as --log-level

Signals: SIGHUP re-reads and validates the configuration (kept if invalid); SIGTERM/SIGINT stop cleanly.

Examples:
  ${t.name} -config /etc/redishappy-haproxy/config.json -log /var/log/redishappy-haproxy
  ${t.name} --config config.json --check-config
  REDISHAPPY_SENTINELS='127.0.0.1:26379;127.0.0.1:26380' ${t.name} -config config.json -bind 127.0.0.1:8000

API (read-only): /api/ping /api/configuration /api/sentinels /api/topology /api/outputs /api/health /api/ready${flavour !== 'consul' ? ' /api/template /api/haproxy' : ''}
`,
    )
    .exitOverride();
  return cmd;
}
