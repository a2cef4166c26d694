import { z } from 'zod';
import { OUTPUT_KINDS } from '../outputs/kinds.js';

/** Canonical keys are the original's PascalCase names; user files may use any case. */

const port = z
  .number({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a number from 1 to 65535') })
  .int('must be a whole number from 1 to 65535')
  .min(1, 'must be 1-65535')
  .max(65535, 'must be 1-65535');

const nonEmpty = z
  .string({ error: (iss) => (iss.input === undefined ? 'is required' : 'must be a string') })
  .trim()
  .min(1, 'must not be empty');

const optionalString = z.string({ error: 'must be a string' }).optional();

const positiveMs = (def: number) =>
  z.number({ error: 'must be a number of milliseconds' }).int('must be a whole number').min(1, 'must be at least 1').default(def);

/** Replication lag in bytes (master offset minus a replica's acknowledged offset). */
const lagBytes = z.number({ error: 'must be a number of bytes' }).int('must be a whole number of bytes').min(0, 'must be 0 or more (bytes of replication lag)');

/** Sentinels that must agree before a master is confirmed: a whole number, or "majority" of the group. */
const quorum = z.union(
  [
    z.number().int().min(1),
    z
      .string()
      .trim()
      .toLowerCase()
      .pipe(z.literal('majority')),
  ],
  { error: 'must be "majority" or a whole number of sentinels (1 or more)' },
);

export const clusterSchema = z.object({
  Name: nonEmpty,
  ExternalPort: port,
  /** Overrides Watcher.Quorum for this cluster. */
  Quorum: quorum.optional(),
  /** Password for the Redis instances of this cluster (used by the ROLE probe). */
  Password: optionalString,
  Username: optionalString,
  /** The read twin of ExternalPort: a proxy port serving this cluster's healthy, in-sync replicas. */
  ExternalReadPort: port.optional(),
  /** Overrides Watcher.MaxReplicaLagBytes for this cluster. */
  MaxReplicaLagBytes: lagBytes.optional(),
  /** Overrides the top-level ReadFallbackToMaster for this cluster. */
  ReadFallbackToMaster: z.boolean({ error: 'must be true or false' }).optional(),
});

export const sentinelSchema = z.object({
  Host: nonEmpty,
  Port: port,
  Password: optionalString,
  Username: optionalString,
});

export const tlsSchema = z.object({
  CaFile: optionalString,
  CertFile: optionalString,
  KeyFile: optionalString,
  ServerName: optionalString,
  RejectUnauthorized: z.boolean({ error: 'must be true or false' }).default(true),
});

export const watcherSchema = z.object({
  /** How often each sentinel is polled (SENTINEL MASTERS) to reconcile and health-check. */
  PollIntervalMs: positiveMs(1000),
  /** Deadline for one sentinel command or probe; a sentinel that misses it is marked down. */
  CommandTimeoutMs: positiveMs(1000),
  /** How often SENTINEL SENTINELS <name> is asked to discover new sentinels. */
  DiscoveryIntervalMs: positiveMs(10000),
  ReconnectMinMs: positiveMs(250),
  ReconnectMaxMs: positiveMs(5000),
  /**
   * At start-up, outputs are first written once every cluster has a confirmed master, or after
   * this long with whatever is confirmed (never with nothing confirmed).
   */
  StartupGraceMs: positiveMs(15000),
  /** A discovered (not configured) sentinel that stays down this long and is no longer listed by any live sentinel is forgotten. */
  ForgetDownSentinelAfterMs: positiveMs(300000),
  /**
   * Sentinels of a cluster's group that must name the same master at the same config-epoch before
   * it is confirmed. "majority" counts every sentinel known for the cluster (configured and
   * discovered, up or down), leaving out a configured sentinel that is not in the group.
   */
  Quorum: quorum.default('majority'),
  /**
   * A replica further behind the master than this (master offset minus the offset the replica
   * acknowledged, from ROLE on the master) is out of the read pool. Clusters may override it.
   */
  MaxReplicaLagBytes: lagBytes.default(1_048_576),
});

export const syslogSchema = z.object({
  /** false turns syslog off. */
  Enabled: z.boolean({ error: 'must be true or false' }).default(true),
  /** "/dev/log" (local), "udp://host:514" or "tcp://host:514". */
  Address: z.string({ error: 'must be a string' }).default('/dev/log'),
  Facility: z
    .enum(['kern', 'user', 'mail', 'daemon', 'auth', 'syslog', 'lpr', 'news', 'uucp', 'cron', 'authpriv', 'ftp', 'local0', 'local1', 'local2', 'local3', 'local4', 'local5', 'local6', 'local7'], { error: 'must be a syslog facility name such as daemon or local0' })
    .default('daemon'),
  Tag: z.string().default('redishappy'),
  /** Minimum level sent to syslog. */
  Level: z.enum(['warn', 'error', 'info'], { error: 'must be warn, error or info' }).default('warn'),
});

export const configSchema = z.object({
  SentinelTCPKeepAlive: z.number({ error: 'must be a number of seconds' }).int('must be a whole number').min(0, 'must be 0 or more').default(0),
  Clusters: z.array(clusterSchema, { error: (iss) => (iss.input === undefined || iss.input === null ? 'is required: at least one cluster' : 'must be a list of clusters') }).min(1, 'needs at least one cluster'),
  Sentinels: z.array(sentinelSchema, { error: (iss) => (iss.input === undefined || iss.input === null ? 'is required: at least one sentinel' : 'must be a list of sentinels') }).min(1, 'needs at least one sentinel'),
  /** Defaults for every sentinel (configured and discovered) unless the sentinel entry sets its own. */
  SentinelPassword: optionalString,
  SentinelUsername: optionalString,
  /** Defaults for every Redis instance unless the cluster entry sets its own. */
  RedisPassword: optionalString,
  RedisUsername: optionalString,
  Tls: tlsSchema.optional(),
  Watcher: watcherSchema.default(() => watcherSchema.parse({})),
  /** With no healthy replica, reads on a cluster's ExternalReadPort go to the confirmed master (false: refused). */
  ReadFallbackToMaster: z.boolean({ error: 'must be true or false' }).default(true),
  Syslog: syslogSchema.default(() => syslogSchema.parse({})),
});

/**
 * Shape used only to canonicalize keys: the base plus every output kind's section. The sections
 * themselves are validated by their kinds (load.ts), only under the executables that run them.
 */
export const canonicalShape = configSchema.extend(Object.fromEntries(OUTPUT_KINDS.map((k) => [k.section, k.schema.optional()])));

export type BaseConfig = z.infer<typeof configSchema>;
export type ClusterConfig = z.infer<typeof clusterSchema>;
export type SentinelConfig = z.infer<typeof sentinelSchema>;
export type TlsConfig = z.infer<typeof tlsSchema>;
export type WatcherConfig = z.infer<typeof watcherSchema>;
export type SyslogConfig = z.infer<typeof syslogSchema>;
