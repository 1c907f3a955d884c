// The Redis client for the configured topology: one server (redis:// or rediss:// with an
// ACL user), a Sentinel set that names the current master, or a Cluster. Every mode
// pipelines automatically; a command that fails across a failover reaches the caller as
// STORE_UNAVAILABLE, and the pipeline's step tries it again until Redis answers.
// Options measured against local topologies (scripts/redis-*.sh, docs/redis-ha.md).
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'
import type { RedisSettings } from '../config.ts'
import { settleWithin } from '../lib/deadline.ts'

export type RedisClient = Redis | Cluster

/**
 * Longest a command waits for its answer, then it fails (STORE_UNAVAILABLE) and the
 * pipeline's step tries it again. Without it, a command on a connection whose server stopped
 * answering without closing it (a frozen or partitioned master) waits for ever, and so does
 * its record, holding its partition's commits back. A script call of 500 notifications takes
 * a few ms.
 */
export const COMMAND_TIMEOUT_MS = 10_000

const COMMON: RedisOptions = {
  lazyConnect: true,
  enableAutoPipelining: true,
  maxRetriesPerRequest: 2,
  commandTimeout: COMMAND_TIMEOUT_MS,
  connectTimeout: 5000,
  retryStrategy: (times) => Math.min(times * 200, 2000),
}

/**
 * @param scriptCommands commands defined with a variable number of keys: in a cluster they are
 *   sent on their own, because auto-pipelining would route them by their first argument, the
 *   key count ("2"), and put scripts of many slots into one cross-slot pipeline.
 */
export function createRedisClient(settings: RedisSettings, scriptCommands: readonly string[] = []): RedisClient {
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
        sentinelRetryStrategy: (times) => Math.min(times * 100, 1000),
        // A demoted master answers READONLY: reconnect, and the sentinels name the new one.
        // (Not failoverDetector: measured, it left the client closed for good in 2 of 5 failovers.)
        reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
      })
    case 'cluster': {
      const options: ClusterOptions = {
        lazyConnect: true,
        enableAutoPipelining: true,
        autoPipeliningIgnoredCommands: [...scriptCommands],
        maxRedirections: 60,
        retryDelayOnFailover: 250,
        retryDelayOnClusterDown: 250,
        retryDelayOnTryAgain: 250,
        // Learn a failover's new slot owners within a second: auto-pipelines that span slots are
        // not redirected one by one, they fail with MOVED until the map is refreshed.
        slotsRefreshInterval: 1000,
        slotsRefreshTimeout: 2000,
        scaleReads: 'master',
        clusterRetryStrategy: (times) => Math.min(times * 200, 2000),
        redisOptions: { ...auth, connectTimeout: COMMON.connectTimeout, maxRetriesPerRequest: COMMON.maxRetriesPerRequest, commandTimeout: COMMAND_TIMEOUT_MS },
      }
      return new Cluster(settings.nodes.map(({ host, port }) => ({ host, port })), options)
    }
  }
}

/** Longest wait for QUIT on close (a dead cluster node never answers it). */
const CLOSE_TIMEOUT_MS = 2000

/** QUIT (pending replies first), bounded in time; then no reconnection, whatever the topology's state. */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  await settleWithin(client.quit().catch(() => undefined), CLOSE_TIMEOUT_MS)
  client.disconnect()
}

/** Longest a try waits for the client's own reconnection (its retries are at most 2 s apart). */
const RECONNECT_WAIT_MS = 5000

/** Resolves once a client that is connecting is ready; rejects when it ends, or after `ms`. */
export function untilReady(client: RedisClient, ms = RECONNECT_WAIT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (error?: Error): void => {
      clearTimeout(timer)
      client.off('ready', onReady)
      client.off('end', onEnd)
      if (error) reject(error)
      else resolve()
    }
    const onReady = (): void => done()
    const onEnd = (): void => done(new Error('Connection is closed.'))
    const timer = setTimeout(() => done(new Error(`not connected within ${ms} ms`)), ms)
    client.on('ready', onReady)
    client.on('end', onEnd)
  })
}
