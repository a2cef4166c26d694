import { z } from 'zod';
import { registryVerifyFields } from '../verify-fields.js';

/**
 * The `Consul` section: the original's keys (Address, Services[].Cluster/Node/Datacenter/Tags)
 * plus Scheme, Token, CaFile, Mode, ServiceName, Meta, TtlSeconds and timing. Canonical
 * PascalCase keys; the loader matches user keys case-insensitively (the original's example
 * writes "tags"). Empty strings mean "not set" (the original's configs carry empty fields).
 */
const optionalString = z.string({ error: 'must be a string' }).optional();

/** Consul's rules for service metadata (structs.ValidateServiceMetadata). */
const META_KEY = /^[A-Za-z0-9_-]{1,128}$/;
const meta = z
  .record(
    z.string().regex(META_KEY, 'Meta keys may use letters, digits, _ and - (at most 128; Consul rule)').refine((k) => !k.startsWith('consul-'), 'Meta keys starting with "consul-" are reserved by Consul'),
    z.string({ error: 'Meta values must be strings' }).max(512, 'Meta values are at most 512 characters (Consul rule)'),
    {
      error: (iss) => {
        if (iss.code === 'invalid_type') return 'must be an object of string values';
        if (iss.code === 'invalid_key') return iss.issues[0]?.message ?? 'invalid Meta key';
        return undefined;
      },
    },
  )
  .refine((m) => Object.keys(m).length <= 64, 'at most 64 Meta keys (Consul rule)');

/** A Go duration as Consul parses it ("90s", "30m", "1h30m"). */
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;

const ms = (def: number) => z.number({ error: 'must be a number of milliseconds' }).int('must be a whole number').min(1, 'must be at least 1').default(def);

export const consulServiceSchema = z.object({
  /** A configured cluster name. */
  Cluster: z.string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') }).min(1, 'must not be empty'),
  /** Catalog mode: the (synthetic, external) node to register under. Default redishappy-<cluster>. */
  Node: optionalString,
  /** Catalog mode: the datacenter (default: the datacenter of the agent at Address). */
  Datacenter: optionalString,
  Tags: z.array(z.string({ error: 'tags must be strings' }), { error: 'must be a list of strings' }).nullable().optional(),
  ServiceName: optionalString,
  Meta: meta.optional(),
});

export const consulSectionSchema = z.object({
  Address: z.string({ error: 'must be host:port' }).default('127.0.0.1:8500'),
  Scheme: z.enum(['http', 'https'], { error: 'must be http or https' }).default('http'),
  /** ACL token, sent as X-Consul-Token. Redacted in /api/configuration and logs. */
  Token: optionalString,
  /** CA bundle (PEM) for https. */
  CaFile: optionalString,
  /** agent: register with the local agent (default). catalog: external service under a synthetic node. */
  Mode: z.enum(['agent', 'catalog'], { error: 'must be agent or catalog' }).default('agent'),
  /** Default service name for clusters whose Services entry has none (default: the cluster name). */
  ServiceName: optionalString,
  Meta: meta.optional(),
  /** Agent mode: TTL of the health check the daemon keeps passing; 0 = no check. */
  TtlSeconds: z.number({ error: 'must be a number of seconds' }).int('must be a whole number').min(0, 'must be 0 or more').max(86400, 'must be at most 86400').default(30),
  /** Agent mode: let Consul remove the service if its check stays critical this long (e.g. "30m"); unset = never. */
  DeregisterCriticalServiceAfter: z.string({ error: 'must be a duration such as "30m"' }).regex(GO_DURATION, 'must be a duration such as "90s", "30m" or "1h"').optional(),
  ReconcileIntervalMs: ms(30000),
  TimeoutMs: ms(5000),
  Services: z.array(consulServiceSchema, { error: 'must be a list of services' }).nullable().optional(),
  ...registryVerifyFields,
});

export type ConsulSection = z.infer<typeof consulSectionSchema>;
export type ConsulService = z.infer<typeof consulServiceSchema>;

/** Characters Consul DNS accepts in service names and tags (others are registered but not discoverable by DNS). */
const DNS_SAFE = /^[A-Za-z0-9-]+$/;

/** Keys redishappy adds to every service's Meta. */
export const OWN_META_KEYS = ['redishappy_cluster', 'config_epoch', 'confirmed_at'] as const;

/**
 * Cross-checks against the configured clusters. `errors` refuse the configuration; `warnings` are
 * logged and start-up goes on (the original's packaged example has a service for "other", which is
 * not a cluster: that must not prevent start-up).
 */
export function checkConsulSection(section: ConsulSection, clusterNames: readonly string[]): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, number>();
  const agentOnlyIgnored: number[] = [];
  (section.Services ?? []).forEach((s, i) => {
    const where = `Consul.Services[${i}]`;
    if (!clusterNames.includes(s.Cluster)) warnings.push(`${where}.Cluster: "${s.Cluster}" is not a configured cluster; entry ignored`);
    const prev = seen.get(s.Cluster);
    if (prev !== undefined) errors.push(`${where}.Cluster: "${s.Cluster}" already has a service (Consul.Services[${prev}])`);
    else seen.set(s.Cluster, i);
    if (section.Mode === 'agent' && (s.Node || s.Datacenter) && clusterNames.includes(s.Cluster)) agentOnlyIgnored.push(i);
    for (const [j, tag] of (s.Tags ?? []).entries()) {
      if (!DNS_SAFE.test(tag)) warnings.push(`${where}.Tags[${j}]: "${tag}" cannot be used in a DNS query (Consul DNS accepts letters, digits and -)`);
    }
  });
  for (const [i, s] of (section.Services ?? []).entries()) {
    for (const k of Object.keys(s.Meta ?? {})) {
      if ((OWN_META_KEYS as readonly string[]).includes(k)) warnings.push(`Consul.Services[${i}].Meta.${k}: set by redishappy; your value is replaced`);
    }
  }
  for (const k of Object.keys(section.Meta ?? {})) {
    if ((OWN_META_KEYS as readonly string[]).includes(k)) warnings.push(`Consul.Meta.${k}: set by redishappy; your value is replaced`);
  }
  if (agentOnlyIgnored.length > 0) {
    warnings.push(
      `Consul.Services[${agentOnlyIgnored.join(', ')}]: Node and Datacenter are used in catalog mode only; in agent mode (the default) the services are registered with the agent at Consul.Address, on its node and in its datacenter`,
    );
  }
  for (const name of clusterNames) {
    const entry = (section.Services ?? []).findIndex((s) => s.Cluster === name);
    const total = Object.keys(serviceFor(section, name).Meta).filter((k) => !(OWN_META_KEYS as readonly string[]).includes(k)).length + OWN_META_KEYS.length;
    if (total > 64) {
      errors.push(
        entry >= 0
          ? `Consul.Services[${entry}].Meta: with Consul.Meta and redishappy's ${OWN_META_KEYS.length} keys this service would have ${total} Meta keys; Consul allows 64`
          : `Consul.Meta: with redishappy's ${OWN_META_KEYS.length} keys the service of cluster "${name}" would have ${total} Meta keys; Consul allows 64`,
      );
    }
  }
  for (const name of clusterNames) {
    const svc = serviceFor(section, name).ServiceName;
    if (!DNS_SAFE.test(svc)) {
      const entry = (section.Services ?? []).findIndex((s) => s.Cluster === name);
      const where = entry >= 0 && section.Services?.[entry]?.ServiceName ? `Consul.Services[${entry}].ServiceName` : section.ServiceName ? 'Consul.ServiceName' : `cluster "${name}"`;
      warnings.push(`${where}: service name "${svc}" cannot be used in a DNS query (Consul DNS accepts letters, digits and -); set Consul.Services[].ServiceName`);
    }
  }
  const hp = /^(\[[^\]]+\]|[^:/\s[\]]+):(\d{1,5})$/.exec(section.Address.replace(/^https?:\/\//, '').replace(/\/+$/, ''));
  if (!hp || Number(hp[2]) < 1 || Number(hp[2]) > 65535) errors.push(`Consul.Address: "${section.Address}" is not host:port (e.g. 127.0.0.1:8500 or https://consul.example:8501)`);
  const https = section.Address.startsWith('https://') || (section.Scheme === 'https' && !section.Address.startsWith('http://'));
  if (section.CaFile && !https) warnings.push('Consul.CaFile is set but Consul.Scheme is not https; the CA file is not used');
  return { errors, warnings };
}

export interface ServiceSettings {
  Cluster: string;
  /** Catalog mode node: the Services entry's Node, or redishappy-<cluster>. Never empty. */
  Node: string;
  Datacenter: string | undefined;
  Tags: string[];
  ServiceName: string;
  /** User Meta: section Meta overlaid by the entry's Meta. */
  Meta: Record<string, string>;
}

/** The registration settings for one cluster: its Services entry, or the documented defaults. */
export function serviceFor(section: ConsulSection, cluster: string): ServiceSettings {
  const entry = (section.Services ?? []).find((s) => s.Cluster === cluster);
  return {
    Cluster: cluster,
    Node: entry?.Node || `redishappy-${cluster}`,
    Datacenter: entry?.Datacenter || undefined,
    Tags: entry?.Tags ?? [],
    ServiceName: entry?.ServiceName || section.ServiceName || cluster,
    Meta: { ...section.Meta, ...entry?.Meta },
  };
}

/** Stable service ID, as the original: redishappy-consul-<cluster>. */
export const SERVICE_ID_PREFIX = 'redishappy-consul-';
export const serviceId = (cluster: string) => `${SERVICE_ID_PREFIX}${cluster}`;
