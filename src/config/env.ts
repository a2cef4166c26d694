import { splitHostPort } from './address.js';

/** REDISHAPPY_* overrides of the original, applied after the file and before validation. */

export interface EnvOverrideResult {
  problems: string[];
  notes: string[];
}

type Obj = Record<string, unknown>;

const HAPROXY_VARS: ReadonlyArray<[string, string]> = [
  ['REDISHAPPY_HAPROXY_TEMPLATE_PATH', 'TemplatePath'],
  ['REDISHAPPY_HAPROXY_OUTPUT_PATH', 'OutputPath'],
  ['REDISHAPPY_HAPROXY_RELOAD_CMD', 'ReloadCommand'],
];

/** Parse "a:1;b:2". Every entry is checked so one message can list every bad entry. */
export function parsePairs(
  varName: string,
  raw: string,
  what: 'name' | 'host',
): { entries: Array<{ key: string; port: number }>; problems: string[] } {
  const entries: Array<{ key: string; port: number }> = [];
  const problems: string[] = [];
  raw.split(';').forEach((entry, i) => {
    const where = `${varName}: entry ${i + 1} ${JSON.stringify(entry)}`;
    const hp = splitHostPort(entry);
    if (!hp) {
      problems.push(`${where} is not ${what}:port${what === 'host' ? ' (write IPv6 as [::1]:26379)' : ''}`);
      return;
    }
    if (hp.host === '') problems.push(`${where} has an empty ${what}`);
    if (!/^\d+$/.test(hp.port)) {
      problems.push(`${where} has a port that is not a number`);
      return;
    }
    const port = Number(hp.port);
    if (port < 1 || port > 65535) {
      problems.push(`${where} has port ${port}: must be 1-65535`);
      return;
    }
    if (hp.host !== '') entries.push({ key: hp.host, port });
  });
  return { entries, problems };
}

/**
 * REDISHAPPY_CLUSTERS: the original's "name:port;..." plus an optional read port,
 * "name:port:readport". The original refused the three-part form (too many colons), so no
 * value that worked before changes meaning.
 */
export function parseClusters(raw: string): { entries: Array<{ key: string; port: number; readPort?: number }>; problems: string[] } {
  const entries: Array<{ key: string; port: number; readPort?: number }> = [];
  const problems: string[] = [];
  raw.split(';').forEach((entry, i) => {
    const three = /^([^:[\]]*):([^:]*):([^:]*)$/.exec(entry);
    if (!three) {
      const parsed = parsePairs('REDISHAPPY_CLUSTERS', entry, 'name');
      problems.push(...parsed.problems.map((p) => p.replace('entry 1', `entry ${i + 1}`)));
      entries.push(...parsed.entries);
      return;
    }
    const where = `REDISHAPPY_CLUSTERS: entry ${i + 1} ${JSON.stringify(entry)}`;
    const [, name, portS, readS] = three as unknown as [string, string, string, string];
    if (name === '') problems.push(`${where} has an empty name`);
    const port = portNumber(portS, `${where} has a port`, problems);
    const readPort = portNumber(readS, `${where} has a read port`, problems);
    if (name !== '' && port !== null && readPort !== null) entries.push({ key: name, port, readPort });
  });
  return { entries, problems };
}

function portNumber(text: string, what: string, problems: string[]): number | null {
  if (!/^\d+$/.test(text)) {
    problems.push(`${what} that is not a number`);
    return null;
  }
  const port = Number(text);
  if (port < 1 || port > 65535) {
    problems.push(`${what} ${port}: must be 1-65535`);
    return null;
  }
  return port;
}

export function applyEnvOverrides(config: Obj, env: NodeJS.ProcessEnv): EnvOverrideResult {
  const problems: string[] = [];
  const notes: string[] = [];

  const clusters = env.REDISHAPPY_CLUSTERS;
  if (clusters) {
    const parsed = parseClusters(clusters);
    problems.push(...parsed.problems);
    // Keep per-cluster extras (passwords) from the file when the name matches; the variable's
    // read port (name:port:readport) replaces the file's, and name:port leaves none.
    const fromFile = Array.isArray(config.Clusters) ? (config.Clusters as Obj[]) : [];
    config.Clusters = parsed.entries.map(({ key, port, readPort }) => {
      const { ExternalReadPort: _dropped, ...kept } = fromFile.find((c) => c && c.Name === key) ?? {};
      return { ...kept, Name: key, ExternalPort: port, ...(readPort !== undefined ? { ExternalReadPort: readPort } : {}) };
    });
    notes.push(`Using environment override for cluster configuration REDISHAPPY_CLUSTERS : ${clusters}`);
  }

  const sentinels = env.REDISHAPPY_SENTINELS;
  if (sentinels) {
    const parsed = parsePairs('REDISHAPPY_SENTINELS', sentinels, 'host');
    problems.push(...parsed.problems);
    config.Sentinels = parsed.entries.map(({ key, port }) => ({ Host: key, Port: port }));
    notes.push(`Using environment override for sentinel configuration REDISHAPPY_SENTINELS : ${sentinels}`);
  }

  for (const [name, key] of HAPROXY_VARS) {
    const value = env[name];
    if (!value) continue;
    const section = config.HAProxy !== null && typeof config.HAProxy === 'object' && !Array.isArray(config.HAProxy) ? (config.HAProxy as Obj) : {};
    section[key] = value;
    config.HAProxy = section;
    // The reload command may embed credentials; do not echo it.
    notes.push(`Overriding with environmental variable ${name}${key === 'ReloadCommand' ? '' : `=${value}`}`);
  }
  return { problems, notes };
}
