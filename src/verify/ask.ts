import type { ConnectionOptions } from 'node:tls';
import { connectWithin, openConnection, type ConnectSettings } from '../sentinel/connection.js';
import { identityOf } from './identity.js';
import type { Failure, Identity } from './types.js';

/**
 * Who answers at host:port: a NEW connection each time (a client arriving now is what we check;
 * a kept connection would stay on the instance it first reached), authenticated as the ROLE probe
 * does, asked ROLE and INFO server, closed. Bounded by the settings' timeout.
 */
export async function askIdentity(host: string, port: number, settings: ConnectSettings, tls: ConnectionOptions | undefined): Promise<Identity | Failure> {
  const redis = openConnection(host, port, settings, tls);
  try {
    await connectWithin(redis, settings.timeoutMs);
    const [role, info] = await Promise.all([redis.call('ROLE'), redis.call('INFO', 'server')]);
    return identityOf(role, String(info));
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    redis.disconnect();
  }
}
