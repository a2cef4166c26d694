import { EVERY_FLAVOUR, type Flavour } from '../config/flavour.js';
import { OUTPUT_KINDS } from '../outputs/kinds.js';
import type { OutputKind } from '../outputs/kind.js';

/**
 * The one description of the command line: `--help` (args.ts) and the man pages (manPage(),
 * written at package time by scripts/man.ts) are both made from it, so they cannot drift apart.
 */

/** "a, b and c". */
function listWords(words: readonly string[]): string {
  return words.length <= 1 ? words.join('') : `${words.slice(0, -1).join(', ')} and ${words[words.length - 1]}`;
}

/** The kinds every executable runs, by man-page group: "the hooks (Exec, Webhook)", "the template outputs (Templates: nginx, ...)". */
export function everyExecutableRuns(kinds: readonly OutputKind[]): string {
  const groups = new Map<string, { sections: string[]; note?: string }>();
  for (const k of kinds.filter((k) => EVERY_FLAVOUR.every((f) => k.flavours.includes(f)))) {
    const group = k.manual?.group ?? `the ${k.kind} output`;
    const g = groups.get(group) ?? { sections: [] };
    g.sections.push(k.section);
    g.note ??= k.manual?.note;
    groups.set(group, g);
  }
  return listWords([...groups].map(([group, g]) => `${group} (${g.sections.join(', ')}${g.note ? `: ${g.note}` : ''})`));
}

export const TITLES: Record<Flavour, { name: string; summary: string }> = {
  haproxy: { name: 'redishappy-haproxy', summary: 'Keep HAProxy pointed at the confirmed Redis master of each Sentinel-monitored cluster.' },
  consul: { name: 'redishappy-consul', summary: 'Keep a Consul service entry per Redis cluster pointing at its confirmed master.' },
  auto: { name: 'redishappy', summary: `Watch Redis Sentinels and publish each cluster's confirmed master to every output configured (${listWords(OUTPUT_KINDS.map((k) => k.section))} sections).` },
};

/** Paragraphs separated by a blank line; no line breaks inside one (--help wraps them to the terminal). */
export const DESCRIPTION = [
  'A master is presented only once Sentinel has confirmed it: the sentinel view with the highest config-epoch names it and the instance itself answers ROLE as master. An old master that comes back announcing itself as master is never presented.',
  `Every executable also runs ${everyExecutableRuns(OUTPUT_KINDS)} found in the configuration; --check-config lists the outputs it would run.`,
].join('\n\n');

export interface FlagDoc {
  short?: string;
  long: string;
  arg?: string;
  help: string;
  defaultValue?: string | boolean;
  env?: string;
  choices?: string[];
}

export const FLAGS: FlagDoc[] = [
  { short: 'v', long: 'version', help: 'print the version and exit' },
  { short: 'c', long: 'config', arg: 'file', help: 'JSON configuration file (the original redishappy format)', defaultValue: 'config.json' },
  { short: 'l', long: 'log', arg: 'dir', help: 'also write logs to <dir>/redis-happy.log' },
  { short: 'b', long: 'bind', arg: 'addr', help: 'API listen address: :8000, 127.0.0.1:8000, [::1]:8000 or /path.sock (env: BIND, GOJI_BIND, PORT)' },
  { long: 'log-level', arg: 'level', help: 'trace, debug, info, warn, error, fatal or silent', choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], defaultValue: 'info', env: 'REDISHAPPY_LOG_LEVEL' },
  { long: 'log-format', arg: 'format', help: 'console log lines: auto (readable on a terminal, JSON when piped or under a service manager), pretty or json', choices: ['auto', 'pretty', 'json'], defaultValue: 'auto', env: 'REDISHAPPY_LOG_FORMAT' },
  { long: 'check-config', help: 'validate the configuration (file + REDISHAPPY_* variables) and exit', defaultValue: false },
  { short: 'h', long: 'help', help: 'show this help' },
];

/** Flag spelling for commander: "-c, --config <file>". */
export function flagSpec(f: FlagDoc): string {
  return `${f.short ? `-${f.short}, ` : ''}--${f.long}${f.arg ? ` <${f.arg}>` : ''}`;
}

export const GO_STYLE_NOTE = "Flags also work in the original's Go style: -config file.json, -config=file.json, -log dir, -bind :8000.";

/** Every variable; `flavours` limits one to the executables it concerns (see environment()). */
export const ENVIRONMENT: Array<{ name: string; help: string; flavours?: Flavour[] }> = [
  { name: 'REDISHAPPY_CLUSTERS=name:port;name:port', help: 'replaces Clusters (Name = Sentinel master name, port = ExternalPort)' },
  { name: 'REDISHAPPY_SENTINELS=host:port;[::1]:26379', help: 'replaces Sentinels' },
  { name: 'REDISHAPPY_HAPROXY_TEMPLATE_PATH, REDISHAPPY_HAPROXY_OUTPUT_PATH, REDISHAPPY_HAPROXY_RELOAD_CMD', help: 'replace the HAProxy section\'s TemplatePath, OutputPath and ReloadCommand', flavours: ['haproxy', 'auto'] },
  { name: 'REDISHAPPY_LOG_LEVEL', help: 'same as --log-level' },
  { name: 'REDISHAPPY_LOG_FORMAT', help: 'same as --log-format' },
  { name: 'BIND, GOJI_BIND, PORT', help: 'API listen address when --bind is not given, in this order (PORT: that port on every interface); default :8000' },
];

/** The variables one executable's --help and man page list. */
export function environment(flavour: Flavour): Array<{ name: string; help: string }> {
  return ENVIRONMENT.filter((e) => !e.flavours || e.flavours.includes(flavour));
}

export const SIGNALS: Array<{ name: string; help: string }> = [
  { name: 'SIGHUP', help: 're-reads and validates the configuration (kept if invalid) and reopens the log file' },
  { name: 'SIGTERM, SIGINT', help: 'stop cleanly (outputs keep what they last applied)' },
];

export const EXIT_CODES: Array<{ code: number; help: string }> = [
  { code: 0, help: 'stopped by SIGTERM/SIGINT, --check-config found the configuration valid, --help or --version' },
  { code: 1, help: 'could not start or stop: API address in use, an output cannot start (bad template, unwritable file, ...)' },
  { code: 2, help: 'usage error or invalid configuration' },
];

export function examples(flavour: Flavour): string[] {
  const n = TITLES[flavour].name;
  const dir = flavour === 'auto' ? 'redishappy-haproxy' : n;
  return [`${n} -config /etc/${dir}/config.json -log /var/log/${dir}`, `${n} --config config.json --check-config`, `REDISHAPPY_SENTINELS='127.0.0.1:26379;127.0.0.1:26380' ${n} -config config.json -bind 127.0.0.1:8000`];
}

export function apiPaths(flavour: Flavour): string {
  return `/api/ping /api/configuration /api/sentinels /api/topology /api/outputs /api/health /api/ready${flavour !== 'consul' ? ' /api/template /api/haproxy' : ''}`;
}

export function files(flavour: Flavour): Array<{ path: string; help: string }> {
  const n = flavour === 'auto' ? 'redishappy-<flavour>' : TITLES[flavour].name;
  const out = [
    { path: `/etc/${n}/config.json`, help: 'configuration (packages); the default without --config is ./config.json' },
    { path: `/var/log/${n}/redis-happy.log`, help: 'log file when started with -log /var/log/' + n },
    { path: `/lib/systemd/system/${n}.service`, help: 'systemd unit (packages); systemctl reload sends SIGHUP' },
  ];
  if (flavour !== 'consul') out.splice(1, 0, { path: `/etc/${flavour === 'auto' ? 'redishappy-haproxy' : n}/haproxy_template.cfg`, help: 'HAProxy template (HAProxy.TemplatePath) rendered to HAProxy.OutputPath' });
  return out;
}

/** The text --help shows after the flags. */
export function helpAfter(flavour: Flavour): string {
  const pad = (s: string) => s.padEnd(46);
  const env = environment(flavour).map((e) => (e.name.length > 45 ? `  ${e.name}\n  ${pad('')}${e.help}` : `  ${pad(e.name)}${e.help}`));
  return `
${GO_STYLE_NOTE}

Environment (non-empty values override the file):
${env.join('\n')}

Signals: ${SIGNALS.map((s) => `${s.name} ${s.help}`).join('; ')}.

Exit codes: ${EXIT_CODES.map((e) => `${e.code} ${e.help}`).join('; ')}.

Examples:
${examples(flavour).map((e) => `  ${e}`).join('\n')}

API (read-only): ${apiPaths(flavour)}
`;
}

/** roff text: escape backslashes and hyphens, protect a leading dot or quote. */
function roff(text: string): string {
  return text
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .split('\n')
    .map((l) => (/^[.']/.test(l) ? `\\&${l}` : l))
    .join('\n');
}

/** The man page (section 8) of one executable, in roff (man macros). */
export function manPage(flavour: Flavour, version: string, date: string): string {
  const t = TITLES[flavour];
  const out: string[] = [];
  out.push(`.TH ${t.name.toUpperCase().replace(/-/g, '\\-')} 8 "${date}" "redishappy ${version}" "System Administration"`);
  out.push('.nh', '.ad l');
  out.push('.SH NAME', `${roff(t.name)} \\- ${roff(t.summary.replace(/\.$/, '').replace(/^./, (c) => c.toLowerCase()))}`);
  out.push('.SH SYNOPSIS', `.B ${roff(t.name)}`, '[\\fIoptions\\fR]');
  out.push('.SH DESCRIPTION', roff(t.summary), ...DESCRIPTION.split('\n\n').flatMap((p) => ['.PP', roff(p.replace(/\n/g, ' '))]));
  if (flavour === 'haproxy') out.push('.PP', roff('Installed also as redis-haproxy, the original\'s name.'));
  if (flavour === 'consul') out.push('.PP', roff('Installed also as redis-consul, the original\'s name.'));
  out.push('.SH OPTIONS');
  for (const f of FLAGS) {
    out.push('.TP', `.B ${roff(flagSpec(f))}`);
    const extra = [f.defaultValue !== undefined && f.defaultValue !== false ? `Default: ${String(f.defaultValue)}.` : '', f.env ? `Environment: ${f.env}.` : ''].filter(Boolean).join(' ');
    out.push(roff(`${f.help.replace(/^./, (c) => c.toUpperCase())}.${extra ? ` ${extra}` : ''}`));
  }
  out.push('.PP', roff(GO_STYLE_NOTE));
  out.push('.SH ENVIRONMENT', roff('Non-empty values override the configuration file.'));
  for (const e of environment(flavour)) out.push('.TP', `.B ${roff(e.name)}`, roff(e.help.replace(/^./, (c) => c.toUpperCase()) + '.'));
  out.push('.SH FILES');
  for (const f of files(flavour)) out.push('.TP', `.I ${roff(f.path)}`, roff(f.help.replace(/^./, (c) => c.toUpperCase()) + '.'));
  out.push('.SH SIGNALS');
  for (const s of SIGNALS) out.push('.TP', `.B ${roff(s.name)}`, roff(s.help.replace(/^./, (c) => c.toUpperCase()) + '.'));
  out.push('.SH EXIT STATUS');
  for (const e of EXIT_CODES) out.push('.TP', `.B ${e.code}`, roff(e.help.replace(/^./, (c) => c.toUpperCase()) + '.'));
  out.push('.SH HTTP API', roff(`Read-only, on the --bind address: ${apiPaths(flavour)} /api/stream /metrics and the status page at /.`));
  out.push('.SH EXAMPLES');
  for (const e of examples(flavour)) out.push('.PP', '.nf', roff(e), '.fi');
  const others = (['auto', 'haproxy', 'consul'] as const).filter((f) => f !== flavour).map((f) => `.BR ${roff(TITLES[f].name)} (8)`);
  out.push('.SH SEE ALSO', ...others.map((o, i) => (i < others.length - 1 ? `${o},` : o)), '.BR redis\\-sentinel (1),', '.BR haproxy (1)');
  return out.join('\n') + '\n';
}
