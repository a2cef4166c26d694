import type { Config } from '../config/load.js';
import { tlsOptions } from '../sentinel/connection.js';
import type { InstanceAccess } from './checks.js';

/**
 * How verification talks to a cluster's instances, through a door or directly: exactly as the
 * ROLE probe does (the cluster's Username/Password, else RedisUsername/RedisPassword; the
 * top-level Tls section; Watcher.CommandTimeoutMs as the deadline).
 */
export function instanceAccess(config: Config): InstanceAccess {
  return {
    tls: tlsOptions(config.Tls),
    settings: (name) => {
      const cluster = config.Clusters.find((c) => c.Name === name);
      return {
        credentials: { username: cluster?.Username ?? config.RedisUsername, password: cluster?.Password ?? config.RedisPassword },
        tls: config.Tls,
        timeoutMs: config.Watcher.CommandTimeoutMs,
        keepAliveSeconds: 0,
      };
    },
  };
}
