// Wires the service together. Used by main.ts and by the integration tests, which start
// real instances against the real broker and Redis.
import type { Config } from './config.ts'
import { DedupStore } from './dedup/store.ts'
import { AddressGuard } from './delivery/address-guard.ts'
import { CallbackClient } from './delivery/http-client.ts'
import type { RetryPolicy } from './delivery/retry-policy.ts'
import { describeError } from './errors.ts'
import { OpsServer, type Readiness } from './http/server.ts'
import { ConsumerLoop } from './kafka/consumer-loop.ts'
import { Publisher } from './kafka/publisher.ts'
import { ensureTopics } from './kafka/topics.ts'
import type { Logger } from './log.ts'
import { createMetrics, type Metrics } from './metrics.ts'
import { inputTopics, outputTopics } from './names.ts'
import { RecordHandler } from './record-handler.ts'

export interface App {
  /** Starts the HTTP endpoints, then connects (waiting for Redis and Kafka as long as needed) and joins the group. */
  start(): Promise<void>
  /** Graceful stop: no new records, in-flight ones finished or handed back, offsets committed. */
  close(): Promise<void>
  readiness(): Promise<Readiness>
  readonly metrics: Metrics
  /** The port the HTTP endpoints listen on (useful with HTTP_PORT=0). */
  readonly httpPort: number
}

export interface AppOptions {
  retryPolicy?: Partial<RetryPolicy>
  /** Process-wide metrics (CPU, memory, event loop); off in tests that run several instances. */
  defaultMetrics?: boolean
  httpHost?: string
}

const CONNECT_RETRY_MS = 2000

export function createApp(config: Config, logger: Logger, options: AppOptions = {}): App {
  const metrics = createMetrics({ defaultMetrics: options.defaultMetrics ?? true })
  const store = new DedupStore(config.redisUrl, config.processedTtlSeconds)
  let lastRedisError = ''
  store.onError((error) => {
    if (error.message !== lastRedisError) logger.warn({ error: error.message }, 'Redis connection problem')
    lastRedisError = error.message
  })
  const client = new CallbackClient({
    timeoutMs: config.callbackTimeoutMs,
    connectionsPerOrigin: config.tuning.connectionsPerOrigin,
    maxResponseBytes: config.tuning.maxResponseBytes,
    secrets: config.webhookSecrets,
    guard: new AddressGuard(config.allowedNetworks),
  })
  const publisher = new Publisher({ brokers: config.kafka.brokers, clientId: config.kafka.clientId, topics: config.kafka.topics })
  const handler = new RecordHandler({ config, store, client, publisher, metrics, logger, ...(options.retryPolicy ? { retryPolicy: options.retryPolicy } : {}) })
  const loop = new ConsumerLoop({ config, handler, logger, metrics })
  const readiness = async (): Promise<Readiness> => {
    const checks = { redis: store.isReady && (await store.ping()), kafka: loop.isJoined }
    return { ready: checks.redis && checks.kafka, checks }
  }
  const server = new OpsServer({ readiness, registry: metrics.registry })
  const stopping = new AbortController()
  let httpPort = config.httpPort
  let started = false

  async function untilDone(what: string, operation: () => Promise<unknown>): Promise<void> {
    for (;;) {
      try {
        await operation()
        return
      } catch (error) {
        if (stopping.signal.aborted) throw error
        logger.warn({ error: describeError(error) }, `${what} failed: retrying in ${CONNECT_RETRY_MS} ms`)
        await new Promise((resolve) => setTimeout(resolve, CONNECT_RETRY_MS))
      }
    }
  }

  return {
    metrics,
    get httpPort() {
      return httpPort
    },
    readiness,
    async start() {
      httpPort = await server.listen(config.httpPort, options.httpHost)
      logger.info({ port: httpPort }, 'HTTP endpoints listening')
      await untilDone('connecting to Redis', () => store.connect())
      const topics = config.kafka.topics
      await untilDone('creating topics', async () => {
        const created = await ensureTopics(config.kafka.brokers, config.kafka.clientId, [...inputTopics(topics), ...outputTopics(topics)])
        if (created.length > 0) logger.info({ topics: created }, 'created missing topics')
      })
      await untilDone('joining the consumer group', () => loop.start())
      started = true
      logger.info({ groupId: config.kafka.groupId, topics: inputTopics(topics) }, 'consuming')
    },
    async close() {
      stopping.abort()
      if (started) await loop.stop()
      await Promise.allSettled([publisher.close(), client.close()])
      await store.close()
      await server.close()
    },
  }
}
