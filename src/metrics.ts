// Prometheus metrics (GET /metrics). One registry per service instance, so tests can run
// several instances in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'

/** Values read when /metrics is scraped, instead of being updated on every record. */
export interface MetricSources {
  inFlight(): Array<{ loop: string; count: number }>
  lag(): Array<{ topic: string; partition: number; lag: number }>
  circuits(): Array<{ origin: string; state: string }>
  concurrencyLimits(): Array<{ origin: string; limit: number }>
}

export function createMetrics(options: { defaultMetrics: boolean; sources: MetricSources }) {
  const registry = new Registry()
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry })
  const registers = [registry]
  return {
    registry,
    consumed: new Counter({ name: 'notifications_consumed_total', help: 'Kafka records consumed, by topic and kind', labelNames: ['topic', 'kind'], registers }),
    delivered: new Counter({ name: 'notifications_delivered_total', help: 'Notifications delivered (2xx), by kind', labelNames: ['kind'], registers }),
    failed: new Counter({ name: 'notifications_failed_total', help: 'Notifications finally given up, by error code', labelNames: ['code'], registers }),
    attempts: new Counter({ name: 'notification_attempts_total', help: 'HTTP attempts, by result', labelNames: ['result'], registers }),
    retriesScheduled: new Counter({ name: 'notification_retries_scheduled_total', help: 'Retries scheduled after a failed attempt', registers }),
    deadLettered: new Counter({ name: 'notifications_dead_lettered_total', help: 'Records sent to the dead-letter topic, by code', labelNames: ['code'], registers }),
    duplicates: new Counter({ name: 'notifications_duplicates_skipped_total', help: 'Results skipped because already sent', registers }),
    deferred: new Counter({ name: 'notifications_deferred_total', help: 'Notifications sent to a retry tier without an attempt because their origin was failing or saturated', labelNames: ['reason'], registers }),
    requestsRecorded: new Counter({ name: 'processing_requests_recorded_total', help: 'ProcessingRequests recorded', registers }),
    infrastructureRetries: new Counter({ name: 'infrastructure_retries_total', help: 'Steps retried because Redis or Kafka failed', labelNames: ['code'], registers }),
    inFlight: new Gauge({
      name: 'notifications_in_flight',
      help: 'Records being handled (waiting retries included), by consumer loop',
      labelNames: ['loop'],
      registers,
      collect() {
        for (const { loop, count } of options.sources.inFlight()) this.set({ loop }, count)
      },
    }),
    lag: new Gauge({
      name: 'kafka_consumer_lag',
      help: 'Records waiting in Kafka, per topic and partition owned by this replica (refreshed every 10 s)',
      labelNames: ['topic', 'partition'],
      registers,
      collect() {
        this.reset()
        for (const { topic, partition, lag } of options.sources.lag()) this.set({ topic, partition: String(partition) }, lag)
      },
    }),
    circuits: new Gauge({
      name: 'callback_circuit_state',
      help: 'Callback origins whose circuit is not closed (1 = in that state)',
      labelNames: ['origin', 'state'],
      registers,
      collect() {
        this.reset()
        for (const { origin, state } of options.sources.circuits()) this.set({ origin, state }, 1)
      },
    }),
    concurrencyLimits: new Gauge({
      name: 'callback_origin_concurrency_limit',
      help: 'Attempts a callback origin may have in flight, for origins whose adaptive limit moved from where it starts',
      labelNames: ['origin'],
      registers,
      collect() {
        this.reset()
        for (const { origin, limit } of options.sources.concurrencyLimits()) this.set({ origin }, limit)
      },
    }),
    underReplicatedTopics: new Gauge({
      name: 'kafka_topic_under_replicated',
      help: 'Topics this service relies on with fewer replicas than KAFKA_TOPIC_REPLICATION_FACTOR, valued at the replicas they have (checked at start)',
      labelNames: ['topic'],
      registers,
    }),
    attemptDuration: new Histogram({
      name: 'notification_attempt_duration_seconds',
      help: 'Duration of one HTTP attempt',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
  }
}

export type Metrics = ReturnType<typeof createMetrics>
