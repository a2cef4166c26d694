import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from '../harness/index.js';
import { ANY_PORT, runBin, waitListening, type DaemonProcess } from './daemon-process.js';
import { FAST_WATCHER } from './watch.js';

/** What /api/topology reports per cluster (the fields these tests read). */
export interface TopologyEntry {
  name: string;
  ip: string | null;
  port: number | null;
  quorum: number;
  knownSentinels: number;
  held: { reason: string } | null;
  views: Array<{ sentinel: string; ip: string; port: number; configEpoch: number; agrees: boolean }>;
}

/** What /api/sentinels reports per sentinel location (the fields these tests read). */
export interface SentinelEntry {
  state: number;
  configured: boolean;
  lastError: string | null;
}

export interface ConfigDaemon {
  d: DaemonProcess;
  api: string;
  dir: string;
  configPath: string;
  /** Rewrites the config file (not yet reloaded: send SIGHUP). */
  write(config: Record<string, unknown>): void;
  topology(): Promise<TopologyEntry[]>;
  cluster(name: string): Promise<TopologyEntry | undefined>;
  sentinels(): Promise<Record<string, SentinelEntry>>;
}

/**
 * The real `redishappy` process on a config written from `config` (FAST_WATCHER and syslog off
 * unless the config sets them), its API on a port the kernel picks.
 */
export async function startConfigDaemon(cleanup: Cleanup, config: Record<string, unknown>, bin: 'redishappy' | 'redishappy-haproxy' | 'redishappy-consul' = 'redishappy'): Promise<ConfigDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'rh-config-daemon-'));
  const configPath = join(dir, 'config.json');
  const write = (c: Record<string, unknown>) => writeFileSync(configPath, JSON.stringify({ Watcher: FAST_WATCHER, Syslog: { Enabled: false }, ...c }));
  write(config);
  const d = runBin(cleanup, bin, ['-config', configPath, '-bind', ANY_PORT]);
  const api = await waitListening(d);
  const get = async <T>(path: string): Promise<T> => (await (await fetch(`${api}${path}`)).json()) as T;
  const topology = () => get<TopologyEntry[]>('/api/topology');
  return {
    d,
    api,
    dir,
    configPath,
    write,
    topology,
    cluster: async (name) => (await topology()).find((c) => c.name === name),
    sentinels: async () => (await get<{ sentinels: Record<string, SentinelEntry> }>('/api/sentinels')).sentinels,
  };
}
