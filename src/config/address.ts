/** Split "host:port" like Go's net.SplitHostPort: IPv6 must be bracketed ("[::1]:26379"). */
export function splitHostPort(entry: string): { host: string; port: string } | null {
  if (entry.startsWith('[')) {
    const close = entry.indexOf(']');
    if (close < 0 || entry[close + 1] !== ':') return null;
    return { host: entry.slice(1, close), port: entry.slice(close + 2) };
  }
  const colon = entry.lastIndexOf(':');
  if (colon < 0) return null;
  const host = entry.slice(0, colon);
  if (host.includes(':')) return null; // unbracketed IPv6: ambiguous, Go rejects it too
  return { host, port: entry.slice(colon + 1) };
}

/**
 * Same instance: both present, same ip and port. Kept here, beside the host:port helpers, so the
 * outputs and the topology compare addresses the one way the watcher does.
 */
export function sameAddress(a: { ip: string; port: number } | null, b: { ip: string; port: number } | null): boolean {
  return a !== null && b !== null && a.ip === b.ip && a.port === b.port;
}

/** Join like Go's net.JoinHostPort: brackets around IPv6 literals. */
export function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
