import { z } from 'zod';

/**
 * The `Consul` section: the original's keys (Address, Services[].Cluster/Node/Datacenter/Tags)
 * plus Scheme, Token, CaFile, Mode, ServiceName, Meta, TtlSeconds and timing. Canonical
 * PascalCase keys; the loader matches user keys case-insensitively (the original's example
 * writes "tags").
 */
const optionalString = z.string({ error: 'must be a string' }).optional();
const meta = z.record(z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'Meta keys may use letters, digits, _ and - (Consul rule)'), z.string({ error: 'Meta values must be strings' }).max(512, 'Meta values are at most 512 characters'), {
  error: 'must be an object of string values',
});
const ms = (def: number) => z.number({ error: 'must be a number of milliseconds' }).int('must be a whole number').min(1, 'must be at least 1').default(def);

export const consulServiceSchema = z.object({
  /** A configured cluster name. */
  Cluster: z.string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') }).min(1, 'must not be empty'),
  /** Catalog mode: the (synthetic, external) node to register under. Default redishappy-<cluster>. */
  Node: optionalString,
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
  /** CA bundle for https. */
  CaFile: optionalString,
  /** agent: register with the local agent (default). catalog: external service under a synthetic node. */
  Mode: z.enum(['agent', 'catalog'], { error: 'must be agent or catalog' }).default('agent'),
  /** Default service name for clusters whose Services entry has none (default: the cluster name). */
  ServiceName: optionalString,
  Meta: meta.optional(),
  /** Agent mode: TTL of the health check the daemon keeps passing; 0 = no check. */
  TtlSeconds: z.number({ error: 'must be a number of seconds' }).int('must be a whole number').min(0, 'must be 0 or more').default(30),
  /** Agent mode: let Consul remove the service if its check stays critical this long (e.g. "30m"); unset = never. */
  DeregisterCriticalServiceAfter: optionalString,
  ReconcileIntervalMs: ms(30000),
  TimeoutMs: ms(5000),
  Services: z.array(consulServiceSchema, { error: 'must be a list of services' }).nullable().optional(),
});

export type ConsulSection = z.infer<typeof consulSectionSchema>;
export type ConsulService = z.infer<typeof consulServiceSchema>;

/** Cross-checks against the clusters. Errors refuse the config; warnings are logged. */
export function checkConsulSection(section: ConsulSection, clusterNames: string[]): { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const seen = new Map<string, number>();
  (section.Services ?? []).forEach((s, i) => {
    if (!clusterNames.includes(s.Cluster)) warnings.push(`Consul.Services[${i}].Cluster: "${s.Cluster}" is not a configured cluster; entry ignored`);
    const prev = seen.get(s.Cluster);
    if (prev !== undefined) errors.push(`Consul.Services[${i}].Cluster: "${s.Cluster}" already has a service (Consul.Services[${prev}])`);
    else seen.set(s.Cluster, i);
  });
  const hp = /^(\[[^\]]+\]|[^:/\s]+):(\d{1,5})$/.exec(section.Address.replace(/^https?:\/\//, ''));
  if (!hp) errors.push(`Consul.Address: "${section.Address}" is not host:port (e.g. 127.0.0.1:8500)`);
  if (section.CaFile && section.Scheme !== 'https' && !section.Address.startsWith('https://')) warnings.push('Consul.CaFile is set but Consul.Scheme is not https; the CA file is not used');
  if (section.Mode === 'catalog' && section.TtlSeconds > 0) warnings.push('Consul.TtlSeconds applies to agent mode only; catalog mode registers no check');
  return { errors, warnings };
}

/** The service registration settings for one cluster: its Services entry or the documented defaults. */
export function serviceFor(section: ConsulSection, cluster: string): Required<Pick<ConsulService, 'Cluster'>> & { Node: string; Datacenter: string | undefined; Tags: string[]; ServiceName: string; Meta: Record<string, string> } {
  const entry = (section.Services ?? []).find((s) => s.Cluster === cluster);
  return {
    Cluster: cluster,
    Node: entry?.Node ?? `redishappy-${cluster}`,
    Datacenter: entry?.Datacenter,
    Tags: entry?.Tags ?? [],
    ServiceName: entry?.ServiceName ?? section.ServiceName ?? cluster,
    Meta: { ...section.Meta, ...entry?.Meta },
  };
}

/** Stable service ID, as the original: redishappy-consul-<cluster>. */
export const serviceId = (cluster: string) => `redishappy-consul-${cluster}`;
export const SERVICE_ID_PREFIX = 'redishappy-consul-';
