import { z } from 'zod';

/**
 * The verification keys every output with a front door shares (HAProxy, each Templates entry,
 * Consul): where the door is, how often it is checked while nothing changes, and how many times a
 * wrong route is applied again before it is only reported. Per output, like ReloadTimeoutMs and
 * Consul's ReconcileIntervalMs: two proxies may need different doors and rhythms.
 */

const port = z
  .number({ error: 'must be a port number from 1 to 65535' })
  .int('must be a whole number from 1 to 65535')
  .min(1, 'must be 1-65535')
  .max(65535, 'must be 1-65535');

/** Where a proxy's clients connect; every field optional (127.0.0.1, each cluster's ExternalPort, TLS as the probe). */
export const frontDoorSchema = z.object(
  {
    /** The address clients connect to (default 127.0.0.1). */
    Host: z.string({ error: 'must be a host name or address' }).trim().min(1, 'must not be empty').optional(),
    /** A port (one cluster configured), or cluster name → port; default each cluster's ExternalPort. */
    Port: z.union([port, z.record(z.string(), port)], { error: 'must be a port (1-65535) or an object mapping cluster names to ports' }).optional(),
    /** TLS through the door; default: TLS when the top-level Tls section is set (a TCP proxy passes it through). */
    Tls: z.boolean({ error: 'must be true or false' }).optional(),
  },
  { error: 'must be false, true or an object { Host, Port, Tls }' },
);

export const verifySchema = z.union([z.boolean(), frontDoorSchema], { error: 'must be false, true or an object { Host, Port, Tls }' });

const intervalMs = z
  .number({ error: 'must be a number of milliseconds' })
  .int('must be a whole number of milliseconds')
  .min(100, 'must be at least 100')
  .max(3_600_000, 'must be at most 3600000 (1 hour)')
  .default(10_000);

const retries = z.number({ error: 'must be a number of retries' }).int('must be a whole number').min(0, 'must be 0 or more').max(100, 'must be at most 100').default(3);

/** Proxies: HAProxy and Templates entries. */
export const proxyVerifyFields = {
  Verify: verifySchema.optional(),
  VerifyIntervalMs: intervalMs,
  VerifyRetries: retries,
};

/** Consul: read the entry back; no door to name, so only on or off. */
export const registryVerifyFields = {
  Verify: z.boolean({ error: 'must be true or false' }).default(true),
  VerifyIntervalMs: intervalMs,
  VerifyRetries: retries,
};

export type VerifySetting = z.infer<typeof verifySchema>;
export type FrontDoorSetting = z.infer<typeof frontDoorSchema>;

/** A single Port with several clusters cannot say which cluster it is for. */
export function verifyPortProblems(setting: VerifySetting | undefined, clusterNames: readonly string[], path: string): string[] {
  if (typeof setting !== 'object' || setting.Port === undefined) return [];
  if (typeof setting.Port === 'number') {
    return clusterNames.length > 1 ? [`${path}.Verify.Port: a single port fits one cluster only; with ${clusterNames.length} clusters give an object mapping cluster names to ports`] : [];
  }
  return Object.keys(setting.Port)
    .filter((name) => !clusterNames.includes(name))
    .map((name) => `${path}.Verify.Port: "${name}" is not a configured cluster`);
}

/** Cluster → port for the clusters whose door is not their ExternalPort. */
export function doorPorts(setting: VerifySetting | undefined, clusterNames: readonly string[]): Record<string, number> {
  if (typeof setting !== 'object' || setting.Port === undefined) return {};
  if (typeof setting.Port === 'number') return clusterNames.length === 1 ? { [clusterNames[0]!]: setting.Port } : {};
  return { ...setting.Port };
}
