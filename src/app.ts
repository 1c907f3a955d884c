// Wires the service together. Used by main.ts and by the integration tests, which start
// real instances against the real broker and Redis.
import { randomUUID } from 'node:crypto'
import type { Config } from './config.ts'
import { ActivityLog } from './dashboard/activity.ts'
import { Admin } from './dashboard/admin.ts'
import { loadDashboardAssets } from './dashboard/assets.ts'
import { AddressGuard } from './delivery/address-guard.ts'
import { CallbackClient } from './delivery/http-client.ts'
import { concurrencyLimitUpTo } from './delivery/concurrency-limit.ts'
import { OriginAdmission } from './delivery/origin-admission.ts'
import { DEFAULT_ORIGIN_GATE, OriginGate } from './delivery/origin-gate.ts'
import { DEFAULT_JITTER, DEFAULT_SLOW_DOWN_FLOOR_MS, type RetryPolicy } from './delivery/retry-policy.ts'
import { describeError } from './errors.ts'
import { OpsServer, type Readiness } from './http/server.ts'
import { kafkaAccessRefusal, kafkaConnection } from './kafka/connection.ts'
import { ConsumerLoop } from './kafka/consumer-loop.ts'
import { Publisher } from './kafka/publisher.ts'
import { ensureTopics } from './kafka/topics.ts'
import { formatDuration } from './lib/duration.ts'
import { retryUntilDone } from './lib/retry.ts'
import type { Logger } from './log.ts'
import { createMetrics, type Metrics } from './metrics.ts'
import { inputTopics, retryTiers } from './names.ts'
import type { PipelineContext } from './pipeline/context.ts'
import { inputProcessor, retryProcessor } from './pipeline/intake.ts'
import { DeadLetterReader } from './replay/dead-letters.ts'
import { OriginControls } from './origins/origin-controls.ts'
import { NotificationStore } from './store/notification-store.ts'
import { OriginStore } from './store/origin-store.ts'
import { untraced, type Telemetry } from './telemetry/telemetry.ts'

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
  /**
   * Tracing (`startTelemetry(config.tracing)`), owned by the app from here: shut down (spans
   * flushed) by close(). Required when the configuration exports spans; else the no-op API.
   */
  telemetry?: Telemetry
}

const CONNECT_RETRY_MS = 2000
/** Margin added to a claim beyond one attempt's timeout. */
const CLAIM_MARGIN_MS = 15_000
const DAY_MS = 86_400_000
const DEAD_LETTER_RETENTION_MS = 30 * DAY_MS
/** Dead letters and retry records wrap a record of up to 1 MiB (JSON-escaped, plus metadata). */
const WRAPPED_RECORD_MAX_BYTES = 8 * 1024 * 1024
/** Time the last spans get to reach the collector at shutdown. */
const TRACES_FLUSH_MS = 5000

export function createApp(config: Config, logger: Logger, options: AppOptions = {}): App {
  if (config.tracing.export !== undefined && options.telemetry === undefined) throw new Error('tracing is configured: start it with startTelemetry() and pass it as options.telemetry')
  const telemetry = options.telemetry ?? untraced(config.tracing)
  const gate = new OriginGate({ ...DEFAULT_ORIGIN_GATE, concurrency: concurrencyLimitUpTo(config.maxConnectionsPerOrigin) })
  const metrics = createMetrics({
    defaultMetrics: options.defaultMetrics ?? true,
    sources: {
      inFlight: () => loops.map((loop) => ({ loop: loop.name, count: loop.inFlight, limit: loop.inFlightLimit })),
      lag: () => loops.flatMap((loop) => loop.lag()),
      circuits: () => gate.unhealthy(Date.now()),
      concurrencyLimits: () => gate.limits(),
      readiness: () => readiness(),
      pausedOrigins: () => origins.paused(),
    },
  })
  const store = new NotificationStore(config.redis, config.processedTtlSeconds)
  let lastRedisError = ''
  store.onError((error) => {
    if (error.message !== lastRedisError) logger.warn({ error: error.message }, 'Redis connection problem')
    lastRedisError = error.message
  })
  const client = new CallbackClient({
    timeoutMs: config.callbackTimeoutMs,
    // The gate keeps each origin within its limit, at most this: no attempt queues in the client.
    connectionsPerOrigin: config.maxConnectionsPerOrigin,
    maxResponseBytes: config.tuning.maxResponseBytes,
    secrets: config.webhookSecrets,
    guard: new AddressGuard(config.allowedNetworks),
    proxy: config.callbackProxy,
  })
  const connection = kafkaConnection(config.kafka)
  const publisher = new Publisher({ connection, clientId: config.kafka.clientId, topics: config.kafka.topics, onOutcomesPublished: (count) => metrics.outcomesPublished.inc(count) })
  const tiers = retryTiers(config.kafka.groupId, config.retryScheduleMs)
  const [firstTier] = tiers
  if (!firstTier) throw new Error('RETRY_SCHEDULE is empty')
  const origins = new OriginControls({
    store: new OriginStore(config.redis, config.kafka.groupId),
    publisher,
    rateLimits: config.rateLimits,
    autoPauseAfterMs: config.autoPauseAfterMs,
    resumeTier: firstTier,
    logger,
    instance: `${config.kafka.clientId}-${randomUUID().slice(0, 8)}`,
    onResumed: (origin) => gate.reset(origin),
  })
  const activity = new ActivityLog()
  const pipeline: PipelineContext = {
    store,
    transport: client,
    publisher,
    gate: new OriginAdmission(gate),
    origins,
    metrics,
    logger,
    activity,
    tracing: telemetry.tracing,
    schedule: {
      policy: { scheduleMs: config.retryScheduleMs, jitter: DEFAULT_JITTER, slowDownFloorMs: DEFAULT_SLOW_DOWN_FLOOR_MS, ...options.retryPolicy },
      tiers,
    },
    topics: config.kafka.topics,
    notifyOnAccepted: config.notifyOnAccepted,
    claimMs: config.callbackTimeoutMs + CLAIM_MARGIN_MS,
    infrastructureRetryMs: config.tuning.infrastructureRetryMs,
  }
  const { groupInstanceId } = config.kafka
  const loopOptions = { connection, clientId: config.kafka.clientId, tuning: config.tuning, logger, ...(groupInstanceId === undefined ? {} : { groupInstanceId }) }
  const inputLoop = new ConsumerLoop({
    ...loopOptions,
    name: 'input',
    groupId: config.kafka.groupId,
    topics: inputTopics(config.kafka.topics),
    fetch: { minBytes: config.tuning.inputFetchMinBytes, maxWaitMs: config.tuning.inputFetchMaxWaitMs },
    processor: inputProcessor(pipeline),
  })
  // One loop per retry tier: a tier whose head is not due yet never holds back another tier.
  const retryLoops = tiers.map(
    (tier) =>
      new ConsumerLoop({
        ...loopOptions,
        name: `retry.${formatDuration(tier.delayMs)}`,
        groupId: tier.groupId,
        topics: [tier.topic],
        processor: retryProcessor(pipeline),
      }),
  )
  const loops = [inputLoop, ...retryLoops]
  const readiness = async (): Promise<Readiness> => {
    const checks = { redis: store.isReady && (await store.ping()), kafka: loops.every((loop) => loop.isJoined) }
    return { ready: checks.redis && checks.kafka, checks }
  }
  const deadLetters = new DeadLetterReader({ connection, topic: config.kafka.topics.deadLetter, clientId: `${config.kafka.clientId}-admin` })
  const server = new OpsServer({
    readiness,
    registry: metrics.registry,
    adminToken: config.adminToken,
    admin: new Admin({ store, publisher, reader: deadLetters, activity, firstTier, origins, gate }),
    dashboard: loadDashboardAssets(),
  })
  const stopping = new AbortController()
  let httpPort = config.httpPort
  let started = false

  /**
   * Waits for Redis and Kafka as long as needed. A failure that retrying cannot help stops
   * start-up: one that says so (Redis refusing the password or certificate), or, for a Kafka
   * step, the cluster refusing our credentials, certificate or ACLs.
   */
  const untilDone = (what: string, operation: () => Promise<unknown>, refusal: (error: unknown) => Error | undefined = () => undefined) =>
    retryUntilDone(
      async () => {
        try {
          return await operation()
        } catch (error) {
          throw refusal(error) ?? error
        }
      },
      {
        signal: stopping.signal,
        waitMs: CONNECT_RETRY_MS,
        onRetry: (error) => logger.warn({ error: describeError(error) }, `${what} failed: retrying in ${CONNECT_RETRY_MS} ms`),
      },
    )

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
      await untilDone('reading origin pauses', () => origins.start())
      const topics = config.kafka.topics
      await untilDone('creating topics', async () => {
        const ensured = await ensureTopics(connection, config.kafka.clientId, [
          ...inputTopics(topics).map((name) => ({ name })),
          { name: topics.outcomes },
          // Dead letters wait for a person to look at them and replay them.
          { name: topics.deadLetter, configs: { 'retention.ms': String(DEAD_LETTER_RETENTION_MS), 'max.message.bytes': String(WRAPPED_RECORD_MAX_BYTES) } },
          // A retry must outlive its wait by far, whatever the cluster's default retention.
          ...tiers.map((tier) => ({
            name: tier.topic,
            configs: { 'retention.ms': String(Math.max(7 * DAY_MS, 4 * tier.delayMs)), 'max.message.bytes': String(WRAPPED_RECORD_MAX_BYTES) },
          })),
        ], config.kafka.topicLayout)
        if (ensured.created.length > 0) logger.info({ topics: ensured.created, replicationFactor: ensured.replicationFactor }, 'created missing topics')
        metrics.underReplicatedTopics.reset()
        for (const { topic, replicas } of ensured.underReplicated) metrics.underReplicatedTopics.set({ topic }, replicas)
        if (ensured.uncheckedBecause !== undefined) logger.info({ reason: ensured.uncheckedBecause }, 'replication of existing topics not checked this time')
        if (ensured.underReplicated.length > 0) {
          logger.warn({ topics: ensured.underReplicated, wanted: ensured.replicationFactor }, 'topics with fewer replicas than KAFKA_TOPIC_REPLICATION_FACTOR: a broker failure can lose or stall their records')
        }
      }, kafkaAccessRefusal)
      await Promise.all(loops.map((loop) => untilDone('joining the consumer group', () => loop.start(), kafkaAccessRefusal)))
      started = true
      logger.info({ groupId: config.kafka.groupId, topics: inputTopics(topics), retryTopics: tiers.map((tier) => tier.topic) }, 'consuming')
    },
    async close() {
      stopping.abort()
      if (started) await Promise.all(loops.map((loop) => loop.stop()))
      await origins.close()
      await Promise.allSettled([publisher.close(), client.close(), deadLetters.close()])
      await store.close()
      await server.close()
      // Last: every span has ended once the loops stopped and the records are settled.
      await telemetry.shutdown(TRACES_FLUSH_MS)
    },
  }
}
