import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
import { createMetrics, HotCounter } from '../../src/metrics.ts'

async function values(registry: Registry, name: string): Promise<Array<{ labels: object; value: number }>> {
  const metric = await registry.getSingleMetric(name)?.get()
  return (metric?.values ?? []).map(({ labels, value }) => ({ labels, value }))
}

describe('HotCounter', () => {
  it('hands its counts, per label values, to the registry when it is read, and counts on from there', async () => {
    const registry = new Registry()
    const counter = new HotCounter({ name: 'consumed_total', help: 'h', labelNames: ['topic', 'kind'], registers: [registry] })
    counter.count('sending', 'result')
    counter.count('sending', 'result')
    counter.count('AI_handler', 'request')
    counter.inc({ topic: 'sending', kind: 'foreign' })
    assert.deepEqual(await values(registry, 'consumed_total'), [
      { labels: { topic: 'sending', kind: 'foreign' }, value: 1 },
      { labels: { topic: 'sending', kind: 'result' }, value: 2 },
      { labels: { topic: 'AI_handler', kind: 'request' }, value: 1 },
    ])
    counter.count('sending', 'result')
    assert.match(await registry.metrics(), /consumed_total\{topic="sending",kind="result"\} 3/)
  })

  it('counts without labels and with one', async () => {
    const registry = new Registry()
    const plain = new HotCounter({ name: 'skipped_total', help: 'h', registers: [registry] })
    const one = new HotCounter({ name: 'attempts_total', help: 'h', labelNames: ['result'], registers: [registry] })
    plain.count()
    plain.count()
    one.count('ok')
    one.count('DELIVERY_TIMEOUT')
    one.count('ok')
    assert.deepEqual(await values(registry, 'skipped_total'), [{ labels: {}, value: 2 }])
    assert.deepEqual(await values(registry, 'attempts_total'), [
      { labels: { result: 'ok' }, value: 2 },
      { labels: { result: 'DELIVERY_TIMEOUT' }, value: 1 },
    ])
  })
})

describe('createMetrics', () => {
  it('reads the loops\' records in flight once per scrape for its five gauges, afresh at the next', async () => {
    let reads = 0
    const state = { loop: 'sending', count: 3, limit: 8, oldestSeconds: 1.5, paused: true, stages: new Map([['attempt', 2], ['settle', 1]]), waitingLong: 0 }
    const sources = { inFlight: () => (reads++, [state]), lag: () => [], circuits: () => [], concurrencyLimits: () => [] }
    const { registry } = createMetrics({ defaultMetrics: false, sources })
    const text = await registry.metrics()
    assert.equal(reads, 1)
    assert.match(text, /notifications_in_flight\{loop="sending"\} 3/)
    assert.match(text, /notifications_in_flight_limit\{loop="sending"\} 8/)
    assert.match(text, /notifications_in_flight_by_stage\{loop="sending",stage="settle"\} 1/)
    assert.match(text, /kafka_consumer_paused\{loop="sending"\} 1/)
    await new Promise((resolve) => setImmediate(resolve))
    await registry.metrics()
    assert.equal(reads, 2)
  })

  it('declares the metrics dashboards and alerts read, under their names', async () => {
    const sources = { inFlight: () => [], lag: () => [], circuits: () => [], concurrencyLimits: () => [] }
    const { registry } = createMetrics({ defaultMetrics: false, sources })
    const names = (await registry.getMetricsAsJSON()).map((metric) => metric.name).sort()
    assert.deepEqual(names, [
      'callback_circuit_state',
      'callback_origin_concurrency_limit',
      'callback_origin_paused',
      'infrastructure_retries_total',
      'kafka_consumer_lag',
      'kafka_consumer_paused',
      'kafka_produce_duration_seconds',
      'kafka_topic_under_replicated',
      'notification_attempt_duration_seconds',
      'notification_attempts_total',
      'notification_destinations',
      'notification_destinations_loaded_timestamp_seconds',
      'notification_destinations_reloads_total',
      'notification_event_loop_utilization',
      'notification_oauth2_token_requests_total',
      'notification_outcomes_published_total',
      'notification_retries_scheduled_total',
      'notification_service_dependency_up',
      'notification_service_memory_limit_bytes',
      'notification_service_ready',
      'notifications_consumed_total',
      'notifications_dead_lettered_total',
      'notifications_deferred_total',
      'notifications_delivered_total',
      'notifications_duplicates_skipped_total',
      'notifications_failed_total',
      'notifications_in_flight',
      'notifications_in_flight_by_stage',
      'notifications_in_flight_limit',
      'notifications_in_flight_oldest_seconds',
      'notifications_parked_total',
      'processing_requests_recorded_total',
    ])
  })
})
