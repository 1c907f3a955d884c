// Prometheus metrics (GET /metrics). One registry per service instance, so tests can run
// several instances in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { createOperationsMetrics, type OperationsSources } from './operations-metrics.ts'

/** A consumer loop's records in flight; `stages`: how many are at each stage of their handling. */
export interface InFlightState {
  loop: string
  count: number
  limit: number
  oldestSeconds: number
  paused: boolean
  stages: ReadonlyMap<string, number>
  /** Of them, waiting on others for long (a retry's due time, a hung origin, a record of the same id): not held to the adaptive limit. */
  waitingLong: number
}

/** Values read when /metrics is scraped, instead of being updated on every record. */
export interface MetricSources extends OperationsSources {
  inFlight(): InFlightState[]
  lag(): Array<{ group: string; topic: string; partition: number; lag: number }>
  circuits(): Array<{ origin: string; state: string }>
  concurrencyLimits(): Array<{ origin: string; limit: number }>
}

/**
 * A counter counted on the hot path: `count(...labelValues)` adds to a plain number found
 * through nested maps, and the counts go to prom-client when the registry is read (its
 * collect()). prom-client's inc() builds and checks a string of the labels on every call,
 * and so do its labels() children: 0.2–0.4 µs, paid several times per notification.
 * `inc(labels)` is prom-client's, for the rare paths.
 */
export class HotCounter<L extends string> {
  readonly #counter: Counter<L>
  readonly #labelNames: readonly L[]
  readonly #cells = new Map<string, Map<string, { readonly labels: Partial<Record<L, string>>; n: number }>>()

  constructor(config: { name: string; help: string; labelNames?: readonly L[]; registers: Registry[] }) {
    const labelNames = config.labelNames ?? []
    if (labelNames.length > 2) throw new Error(`HotCounter ${config.name}: at most two labels`)
    this.#labelNames = labelNames
    const flush = () => this.#flush()
    this.#counter = new Counter<L>({ ...config, labelNames, collect: flush })
  }

  /** One more, with the label values in the order of `labelNames`. */
  count(first = '', second = ''): void {
    let cells = this.#cells.get(first)
    if (cells === undefined) {
      cells = new Map()
      this.#cells.set(first, cells)
    }
    let cell = cells.get(second)
    if (cell === undefined) {
      const labels: Partial<Record<L, string>> = {}
      const [firstName, secondName] = this.#labelNames
      if (firstName !== undefined) labels[firstName] = first
      if (secondName !== undefined) labels[secondName] = second
      cell = { labels, n: 0 }
      cells.set(second, cell)
    }
    cell.n++
  }

  inc(labels?: Partial<Record<L, string>>, value = 1): void {
    if (labels === undefined) this.#counter.inc(value)
    else this.#counter.inc(labels, value)
  }

  #flush(): void {
    for (const cells of this.#cells.values()) {
      for (const cell of cells.values()) {
        if (cell.n === 0) continue
        if (this.#labelNames.length === 0) this.#counter.inc(cell.n)
        else this.#counter.inc(cell.labels, cell.n)
        cell.n = 0
      }
    }
  }
}

type Registers = Registry[]

/**
 * The service's metrics, declared in groups (one metric per block; names, labels and help
 * texts are what dashboards and alerts read: change them only with those).
 */
export function createMetrics(options: { defaultMetrics: boolean; sources: MetricSources }) {
  const registry = new Registry()
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry })
  const registers = [registry]
  return {
    registry,
    ...intakeMetrics(registers),
    ...deliveryMetrics(registers),
    ...originMetrics(registers, options.sources),
    ...inFlightMetrics(registers, options.sources),
    ...kafkaMetrics(registers, options.sources),
    ...infrastructureMetrics(registers),
    ...destinationsMetrics(registers),
    ...createOperationsMetrics(registers, options.sources),
  }
}

export type Metrics = ReturnType<typeof createMetrics>

/** What arrives on the input topics, and what becomes of it before delivery. */
function intakeMetrics(registers: Registers) {
  return {
    consumed: new HotCounter({ name: 'notifications_consumed_total', help: 'Kafka records consumed, by topic and kind', labelNames: ['topic', 'kind'], registers }),
    duplicates: new HotCounter({ name: 'notifications_duplicates_skipped_total', help: 'Results skipped because already sent', registers }),
    requestsRecorded: new Counter({ name: 'processing_requests_recorded_total', help: 'ProcessingRequests recorded', registers }),
  }
}

/** Attempts and how notifications end: delivered, retried, deferred, parked, given up, dead-lettered. */
function deliveryMetrics(registers: Registers) {
  return {
    delivered: new HotCounter({ name: 'notifications_delivered_total', help: 'Notifications delivered (2xx), by kind', labelNames: ['kind'], registers }),
    failed: new Counter({ name: 'notifications_failed_total', help: 'Notifications finally given up, by error code', labelNames: ['code'], registers }),
    attempts: new HotCounter({ name: 'notification_attempts_total', help: 'HTTP attempts, by result', labelNames: ['result'], registers }),
    attemptDuration: new Histogram({
      name: 'notification_attempt_duration_seconds',
      help: 'Duration of one HTTP attempt',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    oauth2TokenRequests: new Counter({
      name: 'notification_oauth2_token_requests_total',
      help: "OAuth2 token requests to destinations' token endpoints, by destination (its origin pattern in CALLBACK_DESTINATIONS_FILE) and result (ok, refused, unreachable, timeout, invalid)",
      labelNames: ['destination', 'result'],
      registers,
    }),
    retriesScheduled: new Counter({ name: 'notification_retries_scheduled_total', help: 'Retries scheduled after a failed attempt, by the retry tier (its topic)', labelNames: ['topic'], registers }),
    deadLettered: new Counter({ name: 'notifications_dead_lettered_total', help: 'Records sent to the dead-letter topic, by code', labelNames: ['code'], registers }),
    deferred: new Counter({
      name: 'notifications_deferred_total',
      help: 'Notifications sent to a retry tier without an attempt: their origin was failing, saturated, holding us off (Retry-After) or rate-limited',
      labelNames: ['reason'],
      registers,
    }),
    parked: new Counter({ name: 'notifications_parked_total', help: 'Notifications parked in Redis because their origin was paused', registers }),
  }
}

/** Callback origins that are not healthy or not at their starting limit, read when scraped. */
function originMetrics(registers: Registers, sources: MetricSources) {
  return {
    circuits: new Gauge({
      name: 'callback_circuit_state',
      help: 'Callback origins whose circuit is not closed (1 = in that state)',
      labelNames: ['origin', 'state'],
      registers,
      collect() {
        this.reset()
        for (const { origin, state } of sources.circuits()) this.set({ origin, state }, 1)
      },
    }),
    concurrencyLimits: new Gauge({
      name: 'callback_origin_concurrency_limit',
      help: 'Attempts a callback origin may have in flight, for origins whose adaptive limit moved from where it starts',
      labelNames: ['origin'],
      registers,
      collect() {
        this.reset()
        for (const { origin, limit } of sources.concurrencyLimits()) this.set({ origin }, limit)
      },
    }),
  }
}

/** The consumer loops' records in flight: how many, their limit, the oldest, where they are, and backpressure. */
function inFlightMetrics(registers: Registers, sources: MetricSources) {
  // Five gauges read one snapshot per scrape: the loops' records are walked once, not five times.
  let snapshot: InFlightState[] | undefined
  const inFlight = (): InFlightState[] => {
    if (snapshot === undefined) {
      snapshot = sources.inFlight()
      setImmediate(() => (snapshot = undefined))
    }
    return snapshot
  }
  return {
    inFlight: new Gauge({
      name: 'notifications_in_flight',
      help: 'Records being handled (waiting retries included), by consumer loop',
      labelNames: ['loop'],
      registers,
      collect() {
        for (const { loop, count } of inFlight()) this.set({ loop }, count)
      },
    }),
    inFlightLimit: new Gauge({
      name: 'notifications_in_flight_limit',
      help: 'Records a consumer loop may handle at once now: adapts up to the configured maximum (src/kafka/in-flight-limit.ts)',
      labelNames: ['loop'],
      registers,
      collect() {
        for (const { loop, limit } of inFlight()) this.set({ loop }, limit)
      },
    }),
    oldestInFlight: new Gauge({
      name: 'notifications_in_flight_oldest_seconds',
      help: 'Age of the record in flight the longest, by consumer loop (a retry waiting to be due included): one that never ends holds its partition back',
      labelNames: ['loop'],
      registers,
      collect() {
        for (const { loop, oldestSeconds } of inFlight()) this.set({ loop }, oldestSeconds)
      },
    }),
    inFlightByStage: new Gauge({
      name: 'notifications_in_flight_by_stage',
      help: 'Records in flight by consumer loop and where their handling is (queued behind their key, due, controls, admission, claim, attempt, settle, outcome, retry-record, dead-letter…): what a loop that does not move waits on',
      labelNames: ['loop', 'stage'],
      registers,
      collect() {
        this.reset()
        for (const { loop, stages } of inFlight()) for (const [stage, count] of stages) this.set({ loop, stage }, count)
      },
    }),
    paused: new Gauge({
      name: 'kafka_consumer_paused',
      help: '1 while a consumer loop holds its stream paused for lack of room (backpressure)',
      labelNames: ['loop'],
      registers,
      collect() {
        for (const { loop, paused } of inFlight()) this.set({ loop }, paused ? 1 : 0)
      },
    }),
  }
}

/** The consumer loops and topics: lag, replication. */
function kafkaMetrics(registers: Registers, sources: MetricSources) {
  return {
    lag: new Gauge({
      name: 'kafka_consumer_lag',
      help: 'Records waiting in Kafka, per consumer group, topic and partition owned by this replica (refreshed every 10 s)',
      labelNames: ['group', 'topic', 'partition'],
      registers,
      collect() {
        this.reset()
        for (const { group, topic, partition, lag } of sources.lag()) this.set({ group, topic, partition: String(partition) }, lag)
      },
    }),
    underReplicatedTopics: new Gauge({
      name: 'kafka_topic_under_replicated',
      help: 'Topics this service relies on with fewer replicas than KAFKA_TOPIC_REPLICATION_FACTOR, valued at the replicas they have (checked at start)',
      labelNames: ['topic'],
      registers,
    }),
  }
}

/** Redis and Kafka failing under the pipeline. */
function infrastructureMetrics(registers: Registers) {
  return {
    infrastructureRetries: new Counter({ name: 'infrastructure_retries_total', help: 'Steps retried because Redis or Kafka failed', labelNames: ['code'], registers }),
  }
}

/** CALLBACK_DESTINATIONS_FILE re-read (src/destinations/registry.ts): labels carry no part of the file. */
function destinationsMetrics(registers: Registers) {
  return {
    destinationReloads: new Counter({
      name: 'notification_destinations_reloads_total',
      help: 'Re-reads of CALLBACK_DESTINATIONS_FILE after start, by result: applied, or refused (invalid; the previous destinations stay in force)',
      labelNames: ['result'],
      registers,
    }),
    destinationsLoaded: new Gauge({ name: 'notification_destinations_loaded_timestamp_seconds', help: 'When the destinations in force were read (Unix time); absent without CALLBACK_DESTINATIONS_FILE', registers }),
    destinationsCount: new Gauge({ name: 'notification_destinations', help: 'Destinations in force (entries of CALLBACK_DESTINATIONS_FILE)', registers }),
  }
}
