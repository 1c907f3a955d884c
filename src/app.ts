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
import { NO_DESTINATIONS, type DestinationsView } from './destinations/policy.ts'
import { DestinationRegistry, type ReloadResult } from './destinations/registry.ts'
import { DEFAULT_ORIGIN_GATE, OriginGate } from './delivery/origin-gate.ts'
import { DEFAULT_JITTER, DEFAULT_SLOW_DOWN_FLOOR_MS, type RetryPolicy } from './delivery/retry-policy.ts'
import { describeError } from './errors.ts'
import { NotificationStatus } from './http/notification-status.ts'
import { OpsServer, type Readiness } from './http/server.ts'
import { kafkaAccessRefusal, kafkaConnection, type KafkaConnection } from './kafka/connection.ts'
import { ConsumerLoop } from './kafka/consumer-loop.ts'
import { Publisher } from './kafka/publisher.ts'
import { ensureTopics, serviceTopics } from './kafka/topics.ts'
import { formatDuration } from './lib/duration.ts'
import { retryUntilDone } from './retry.ts'
import type { Logger } from './log.ts'
import { createMetrics, type Metrics } from './metrics.ts'
import { inputTopics, retryTiers, type RetryTier } from './names.ts'
import { timingFrom, type PipelineContext } from './pipeline/context.ts'
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
  /** Re-reads CALLBACK_DESTINATIONS_FILE (SIGHUP); undefined without one. */
  reloadDestinations(): ReloadResult | undefined
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
/** Longest one try of a start-up step that may run twice may take (joining a group has its own bound). */
const START_STEP_MS = 60_000
/** Margin added to a claim beyond one attempt's timeout. */
const CLAIM_MARGIN_MS = 15_000
/** Time the last spans get to reach the collector at shutdown. */
const TRACES_FLUSH_MS = 5000

/** The adapters the pipeline and the endpoints share: Redis, Kafka, the callback client, the origins. */
interface Infrastructure {
  readonly telemetry: Telemetry
  readonly gate: OriginGate
  readonly metrics: Metrics
  readonly store: NotificationStore
  readonly client: CallbackClient
  readonly connection: KafkaConnection
  readonly publisher: Publisher
  readonly tiers: [RetryTier, ...RetryTier[]]
  readonly origins: OriginControls
  readonly activity: ActivityLog
  /** CALLBACK_DESTINATIONS_FILE in force (a DestinationRegistry watching it), or NO_DESTINATIONS. */
  readonly destinations: DestinationsView
  /** Filled once the loops are built; read when /metrics is scraped. */
  readonly loops: ConsumerLoop[]
  /** Redis answers and every loop has joined its group: /readyz, and a metric. */
  readonly readiness: () => Promise<Readiness>
}

export function createApp(config: Config, logger: Logger, options: AppOptions = {}): App {
  if (config.tracing.export !== undefined && options.telemetry === undefined) throw new Error('tracing is configured: start it with startTelemetry() and pass it as options.telemetry')
  const infra = buildInfrastructure(config, logger, options)
  const pipeline = buildPipeline(config, logger, infra, options)
  infra.loops.push(...buildLoops(config, logger, infra, pipeline))
  const { server, readiness, deadLetters } = buildHttp(config, infra)
  const { metrics, store, client, publisher, tiers, origins, telemetry, connection, loops, destinations } = infra
  const stopping = new AbortController()
  const untilDone = retryingUntilDone(stopping.signal, logger)
  let httpPort = config.httpPort
  let started = false

  return {
    metrics,
    get httpPort() {
      return httpPort
    },
    readiness,
    reloadDestinations: () => (destinations instanceof DestinationRegistry ? destinations.reload('signal') : undefined),
    async start() {
      httpPort = await server.listen(config.httpPort, options.httpHost)
      logger.info({ port: httpPort }, 'HTTP endpoints listening')
      await untilDone('connecting to Redis', () => store.connect())
      // Bounded tries: a step hung on a node lost in the middle of a failover is tried again, and says so.
      await untilDone('reading origin pauses', () => origins.start(), undefined, START_STEP_MS)
      await untilDone('creating topics', () => createTopics(config, { connection, tiers, metrics, logger }), kafkaAccessRefusal, START_STEP_MS)
      await Promise.all(loops.map((loop) => untilDone('joining the consumer group', () => loop.start(), kafkaAccessRefusal)))
      started = true
      logger.info({ groupId: config.kafka.groupId, topics: inputTopics(config.kafka.topics), retryTopics: tiers.map((tier) => tier.topic) }, 'consuming')
    },
    async close() {
      stopping.abort()
      if (destinations instanceof DestinationRegistry) destinations.close()
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

function buildInfrastructure(config: Config, logger: Logger, options: AppOptions): Infrastructure {
  const telemetry = options.telemetry ?? untraced(config.tracing)
  const gate = new OriginGate({
    ...DEFAULT_ORIGIN_GATE,
    concurrency: concurrencyLimitUpTo(config.maxConnectionsPerOrigin),
    // Called from the first admission on, once `destinations` below exists.
    maxConcurrencyOf: (origin) => destinations.policyFor(origin)?.maxConnections,
  })
  const loops: ConsumerLoop[] = []
  const metrics = createMetrics({
    defaultMetrics: options.defaultMetrics ?? true,
    sources: {
      inFlight: () => loops.map((loop) => loop.inFlightState(Date.now())),
      lag: () => loops.flatMap((loop) => loop.lag()),
      circuits: () => gate.unhealthy(Date.now()),
      concurrencyLimits: () => gate.limits(),
      readiness: () => readiness(),
      pausedOrigins: () => origins.paused(),
    },
  })
  const destinations = config.destinations === undefined ? NO_DESTINATIONS : new DestinationRegistry({ initial: config.destinations, logger, metrics })
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
    destinations,
    onTokenRequest: (destination, result) => metrics.oauth2TokenRequests.inc({ destination, result }),
  })
  const connection = kafkaConnection(config.kafka)
  const publisher = new Publisher({ connection, clientId: config.kafka.clientId, topics: config.kafka.topics, onOutcomesPublished: (count) => metrics.outcomesPublished.inc(count), onRequestAnswered: (ms) => metrics.produceDuration.observe(ms / 1000) })
  const tiers = retryTiers(config.kafka.groupId, config.retryScheduleMs)
  const origins = new OriginControls({
    store: new OriginStore(config.redis, config.kafka.groupId),
    publisher,
    rateLimits: config.rateLimits,
    destinations,
    autoPauseAfterMs: config.autoPauseAfterMs,
    resumeTier: tiers[0],
    logger,
    instance: `${config.kafka.clientId}-${randomUUID().slice(0, 8)}`,
    onResumed: (origin) => gate.reset(origin),
  })
  const readiness = async (): Promise<Readiness> => {
    const checks = { redis: store.isReady && (await store.ping()), kafka: loops.every((loop) => loop.isJoined) }
    return { ready: checks.redis && checks.kafka, checks }
  }
  return { telemetry, gate, metrics, store, client, connection, publisher, tiers, origins, activity: new ActivityLog(), destinations, loops, readiness }
}

function buildPipeline(config: Config, logger: Logger, infra: Infrastructure, options: AppOptions): PipelineContext {
  const { store, client, publisher, gate, origins, metrics, activity, telemetry, tiers } = infra
  const pipeline: PipelineContext = {
    store,
    transport: client,
    publisher,
    admission: new OriginAdmission(gate),
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
    timing: timingFrom((destination) => client.timeoutFor(destination), CLAIM_MARGIN_MS),
    infrastructureRetryMs: config.tuning.infrastructureRetryMs,
  }
  return pipeline
}

/** The input loop, and one loop per retry tier: a tier whose head is not due yet never holds back another tier. */
function buildLoops(config: Config, logger: Logger, infra: Infrastructure, pipeline: PipelineContext): ConsumerLoop[] {
  const { groupInstanceId } = config.kafka
  const loopOptions = { connection: infra.connection, clientId: config.kafka.clientId, tuning: config.tuning, logger, ...(groupInstanceId === undefined ? {} : { groupInstanceId }) }
  const inputLoop = new ConsumerLoop({
    ...loopOptions,
    name: 'input',
    groupId: config.kafka.groupId,
    topics: inputTopics(config.kafka.topics),
    fetch: { minBytes: config.tuning.inputFetchMinBytes, maxWaitMs: config.tuning.inputFetchMaxWaitMs },
    processor: inputProcessor(pipeline),
  })
  const retryLoops = infra.tiers.map(
    (tier) =>
      new ConsumerLoop({
        ...loopOptions,
        name: `retry.${formatDuration(tier.delayMs)}`,
        groupId: tier.groupId,
        topics: [tier.topic],
        processor: retryProcessor(pipeline),
      }),
  )
  return [inputLoop, ...retryLoops]
}

/** Health, readiness, metrics, the admin API and the dashboard. */
function buildHttp(config: Config, infra: Infrastructure) {
  const { store, connection, publisher, activity, tiers, origins, gate, metrics, readiness, destinations, client } = infra
  const deadLetters = new DeadLetterReader({ connection, topic: config.kafka.topics.deadLetter, clientId: `${config.kafka.clientId}-admin` })
  const server = new OpsServer({
    readiness,
    registry: metrics.registry,
    adminToken: config.adminToken,
    admin: new Admin({ store, publisher, reader: deadLetters, activity, firstTier: tiers[0], origins, gate, destinations, tokens: client }),
    notificationStatus: new NotificationStatus(store),
    dashboard: loadDashboardAssets(),
  })
  return { server, readiness, deadLetters }
}

/**
 * Waits for Redis and Kafka as long as needed. A failure that retrying cannot help stops
 * start-up: one that says so (Redis refusing the password or certificate), or, for a Kafka
 * step, the cluster refusing our credentials, certificate or ACLs.
 */
function retryingUntilDone(signal: AbortSignal, logger: Logger) {
  return (what: string, operation: () => Promise<unknown>, refusal: (error: unknown) => Error | undefined = () => undefined, tryTimeoutMs?: number) =>
    retryUntilDone(
      async () => {
        try {
          return await operation()
        } catch (error) {
          throw refusal(error) ?? error
        }
      },
      {
        signal,
        waitMs: CONNECT_RETRY_MS,
        ...(tryTimeoutMs === undefined ? {} : { tryTimeout: { ms: tryTimeoutMs, what } }),
        onRetry: (error) => logger.warn({ error: describeError(error) }, `${what} failed: retrying in ${CONNECT_RETRY_MS} ms`),
      },
    )
}

/** Creates the topics that are missing, and reports those with fewer replicas than wanted. */
async function createTopics(config: Config, deps: { connection: KafkaConnection; tiers: readonly RetryTier[]; metrics: Metrics; logger: Logger }): Promise<void> {
  const { metrics, logger } = deps
  const ensured = await ensureTopics(deps.connection, config.kafka.clientId, serviceTopics(config.kafka.topics, deps.tiers), config.kafka.topicLayout)
  if (ensured.created.length > 0) logger.info({ topics: ensured.created, replicationFactor: ensured.replicationFactor }, 'created missing topics')
  metrics.underReplicatedTopics.reset()
  for (const { topic, replicas } of ensured.underReplicated) metrics.underReplicatedTopics.set({ topic }, replicas)
  if (ensured.uncheckedBecause !== undefined) logger.info({ reason: ensured.uncheckedBecause }, 'replication of existing topics not checked this time')
  if (ensured.underReplicated.length > 0) {
    logger.warn({ topics: ensured.underReplicated, wanted: ensured.replicationFactor }, 'topics with fewer replicas than KAFKA_TOPIC_REPLICATION_FACTOR: a broker failure can lose or stall their records')
  }
}
