import type { RouteVerification } from '../../src/verify/types.js';

/** One cluster of /api/topology, with the fields the verification tests read. */
export interface TopologyEntry {
  name: string;
  ip: string | null;
  port: number | null;
  verification: Record<string, RouteVerification>;
}

export async function topology(api: string): Promise<TopologyEntry[]> {
  return (await (await fetch(`${api}/api/topology`)).json()) as TopologyEntry[];
}

/** The verification of one output for one cluster in /api/topology (undefined until checked). */
export async function verificationOf(api: string, cluster: string, output: string): Promise<RouteVerification | undefined> {
  return (await topology(api)).find((c) => c.name === cluster)?.verification[output];
}

/** Value of one series on /metrics (labels as prom-client writes them, in order), or undefined. */
export async function metric(api: string, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}
