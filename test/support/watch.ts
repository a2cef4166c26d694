import pino from 'pino';
import { clusterDefinitions } from '../../src/config/definitions.js';
import { parseConfigText, type Config } from '../../src/config/load.js';
import { SentinelWatcher } from '../../src/sentinel/watcher.js';
import { TopologyStore } from '../../src/topology/store.js';
import type { MasterChange } from '../../src/topology/types.js';

/** Fast timings so the tests see state changes quickly; defaults are for production. */
export const FAST_WATCHER = { PollIntervalMs: 200, CommandTimeoutMs: 500, DiscoveryIntervalMs: 1000, ReconnectMinMs: 100, ReconnectMaxMs: 500 };

export function testConfig(clusters: Array<{ name: string; externalPort?: number }>, sentinels: Array<{ host: string; port: number }>, extra: Record<string, unknown> = {}): Config {
  const raw = {
    Clusters: clusters.map((c, i) => ({ Name: c.name, ExternalPort: c.externalPort ?? 16379 + i })),
    Sentinels: sentinels.map((s) => ({ Host: s.host, Port: s.port })),
    Watcher: FAST_WATCHER,
    Syslog: { Enabled: false },
    ...extra,
  };
  return parseConfigText(JSON.stringify(raw), 'test', {}, 'auto').config;
}

/** An in-process watcher + topology that records every confirmed change. */
export function startWatcher(config: Config) {
  const logLines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) });
  const topology = new TopologyStore(clusterDefinitions(config));
  const watcher = new SentinelWatcher(config, topology, logger);
  const changes: MasterChange[] = [];
  topology.on('change', (c) => changes.push(c));
  watcher.start();
  return { watcher, topology, changes, logLines, master: (name: string) => topology.get(name)?.master ?? null };
}
