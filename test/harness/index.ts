export { freePort, waitFor } from './wait.js';
export { Cleanup, useCleanup } from './cleanup.js';
export type { ManagedProcess } from './process.js';
export { startRedis, startSentinel, REDIS_SERVER, type RedisNode, type SentinelNode } from './redis.js';
export { startCluster, type ClusterFixture } from './cluster.js';
export { startHaproxy, haproxyCli, connectThrough, routedTo, HAPROXY, type HaproxyProcess } from './haproxy.js';
export { startNginx, nginxHead, NGINX, NGINX_STREAM_MODULE, type NginxProcess } from './nginx.js';
export { makeTestCertificates } from './tls.js';
export type { TlsFiles } from './redis.js';
