// The Redis client for the configured topology: one server (redis:// or rediss:// with an
// ACL user), a Sentinel set that names the current master, or a Cluster. Every mode
// pipelines automatically and retries a command a few times across a failover before the
// caller sees STORE_UNAVAILABLE (and tries its step again).
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import type { RedisSettings } from '../config.ts'

export type RedisClient = Redis | Cluster

const COMMON: RedisOptions = {
  lazyConnect: true,
  enableAutoPipelining: true,
  maxRetriesPerRequest: 2,
  connectTimeout: 5000,
  retryStrategy: (times) => Math.min(times * 200, 2000),
}

export function createRedisClient(settings: RedisSettings): RedisClient {
  const auth: RedisOptions = {
    ...(settings.username === undefined ? {} : { username: settings.username }),
    ...(settings.password === undefined ? {} : { password: settings.password }),
    ...(settings.tls ? { tls: settings.tls.ca ? { ca: settings.tls.ca } : {} } : {}),
  }
  switch (settings.mode) {
    case 'standalone':
      // The URL's own user, password and scheme apply; a CA file adds to them.
      return new Redis(settings.url, { ...COMMON, ...(settings.tls?.ca ? { tls: { ca: settings.tls.ca } } : {}) })
    case 'sentinel':
      return new Redis({
        ...COMMON,
        ...auth,
        sentinels: settings.sentinels.map(({ host, port }) => ({ host, port })),
        name: settings.masterName,
        db: settings.db,
        // After a failover, ask the sentinels again rather than insist on the old master.
        sentinelRetryStrategy: (times) => Math.min(times * 200, 2000),
        failoverDetector: true,
      })
    case 'cluster': {
      const options: ClusterOptions = {
        lazyConnect: true,
        enableAutoPipelining: true,
        maxRedirections: 16,
        retryDelayOnFailover: 200,
        retryDelayOnClusterDown: 300,
        retryDelayOnTryAgain: 200,
        scaleReads: 'master',
        clusterRetryStrategy: (times) => Math.min(times * 200, 2000),
        redisOptions: { ...auth, connectTimeout: COMMON.connectTimeout, maxRetriesPerRequest: COMMON.maxRetriesPerRequest },
      }
      return new Cluster(settings.nodes.map(({ host, port }) => ({ host, port })), options)
    }
  }
}
