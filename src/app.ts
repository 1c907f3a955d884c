// Wires the service together. Used by main.ts and by the integration tests, which start
// real instances against the real broker and Redis.
import type { Config } from './config.ts'
import { ActivityLog } from './dashboard/activity.ts'
import { Admin } from './dashboard/admin.ts'
import { loadDashboardAssets } from './dashboard/assets.ts'
import { DedupStore } from './dedup/store.ts'
import { AddressGuard } from './delivery/address-guard.ts'
import { CallbackClient } from './delivery/http-client.ts'
import { OriginGate } from './delivery/origin-gate.ts'
import type { RetryPolicy } from './delivery/retry-policy.ts'
import { formatDuration } from './duration.ts'
import { describeError } from './errors.ts'
import { OpsServer, type Readiness } from './http/server.ts'
import { ConsumerLoop, type RecordProcessor } from './kafka/consumer-loop.ts'
import { Publisher } from './kafka/publisher.ts'
import { ensureTopics } from './kafka/topics.ts'
import type { Logger } from './log.ts'
import { createMetrics, type Metrics } from './metrics.ts'
import { classify, type Classified } from './messages/classify.ts'
import { parseEnvelope } from './messages/retry-envelope.ts'
import { inputTopics, ourKeyFor, retryTiers } from './names.ts'
import { RecordHandler } from './record-handler.ts'
import { DeadLetterReader } from './replay/dead-letters.ts'

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
const DAY_MS = 86_400_000
const DEAD_LETTER_RETENTION_MS = 30 * DAY_MS
/** Dead letters and retry records wrap a record of up to 1 MiB (JSON-escaped, plus metadata). */
const WRAPPED_RECORD_MAX_BYTES = 8 * 1024 * 1024

export function createApp(config: Config, logger: Logger, options: AppOptions = {}): App {
  const gate = new OriginGate()
  const metrics = createMetrics({
    defaultMetrics: options.defaultMetrics ?? true,
    sources: {
      inFlight: () => loops.map((loop) => ({ loop: loop.name, count: loop.inFlight })),
      lag: () => loops.flatMap((loop) => loop.lag()),
      circuits: () => gate.unhealthy(Date.now()),
    },
  })
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
  const tiers = retryTiers(config.kafka.groupId, config.retryScheduleMs)
  const activity = new ActivityLog()
  const handler = new RecordHandler({ config, store, client, publisher, metrics, logger, tiers, gate, activity, ...(options.retryPolicy ? { retryPolicy: options.retryPolicy } : {}) })
  const onUnexpected: RecordProcessor['onUnexpected'] = (record, error, signal) => handler.deadLetterUnexpected(record, error, signal)
  const loopOptions = { brokers: config.kafka.brokers, clientId: config.kafka.clientId, tuning: config.tuning, logger }
  const inputLoop = new ConsumerLoop({
    ...loopOptions,
    name: 'input',
    groupId: config.kafka.groupId,
    topics: inputTopics(config.kafka.topics),
    fetch: { minBytes: config.tuning.inputFetchMinBytes, maxWaitMs: config.tuning.inputFetchMaxWaitMs },
    processor: {
      prepare(record) {
        const classified = classify(record.key, record.value, ourKeyFor(config.kafka.topics, record.topic))
        return { key: processingIdOf(classified), run: (signal) => handler.handle(record, classified, signal) }
      },
      onUnexpected,
    },
  })
  // One loop per retry tier: a tier whose head is not due yet never holds back another tier.
  const retryLoops = tiers.map(
    (tier) =>
      new ConsumerLoop({
        ...loopOptions,
        name: `retry.${formatDuration(tier.delayMs)}`,
        groupId: tier.groupId,
        topics: [tier.topic],
        processor: {
          prepare(record) {
            const parsed = parseEnvelope(record.value)
            return { key: 'envelope' in parsed ? String(parsed.envelope.notification.processing_id) : undefined, run: (signal) => handler.handleRetry(record, parsed, signal) }
          },
          onUnexpected,
        },
      }),
  )
  const loops = [inputLoop, ...retryLoops]
  const readiness = async (): Promise<Readiness> => {
    const checks = { redis: store.isReady && (await store.ping()), kafka: loops.every((loop) => loop.isJoined) }
    return { ready: checks.redis && checks.kafka, checks }
  }
  const deadLetters = new DeadLetterReader({ brokers: config.kafka.brokers, topic: config.kafka.topics.deadLetter, clientId: `${config.kafka.clientId}-admin` })
  const [firstTier] = tiers
  if (!firstTier) throw new Error('RETRY_SCHEDULE is empty')
  const server = new OpsServer({
    readiness,
    registry: metrics.registry,
    adminToken: config.adminToken,
    admin: new Admin({ store, publisher, reader: deadLetters, activity, firstTier }),
    dashboard: loadDashboardAssets(),
  })
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
        const created = await ensureTopics(config.kafka.brokers, config.kafka.clientId, [
          ...inputTopics(topics).map((name) => ({ name })),
          { name: topics.outcomes },
          // Dead letters wait for a person to look at them and replay them.
          { name: topics.deadLetter, configs: { 'retention.ms': String(DEAD_LETTER_RETENTION_MS), 'max.message.bytes': String(WRAPPED_RECORD_MAX_BYTES) } },
          // A retry must outlive its wait by far, whatever the cluster's default retention.
          ...tiers.map((tier) => ({
            name: tier.topic,
            configs: { 'retention.ms': String(Math.max(7 * DAY_MS, 4 * tier.delayMs)), 'max.message.bytes': String(WRAPPED_RECORD_MAX_BYTES) },
          })),
        ])
        if (created.length > 0) logger.info({ topics: created }, 'created missing topics')
      })
      await Promise.all(loops.map((loop) => untilDone('joining the consumer group', () => loop.start())))
      started = true
      logger.info({ groupId: config.kafka.groupId, topics: inputTopics(topics), retryTopics: tiers.map((tier) => tier.topic) }, 'consuming')
    },
    async close() {
      stopping.abort()
      if (started) await Promise.all(loops.map((loop) => loop.stop()))
      await Promise.allSettled([publisher.close(), client.close(), deadLetters.close()])
      await store.close()
      await server.close()
    },
  }
}

/** Records of one processing_id are handled in order; others need no order. */
function processingIdOf(classified: Classified): string | undefined {
  if (classified.kind === 'result') return String(classified.result.response.processing_id)
  if (classified.kind === 'request') return String(classified.request.processing_id)
  return undefined
}
