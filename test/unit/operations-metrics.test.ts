import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Registry } from 'prom-client'
import { createOperationsMetrics } from '../../src/operations-metrics.ts'
import { createMetrics } from '../../src/metrics.ts'

describe('operations metrics', () => {
  it('reads readiness and the paused origins when scraped, and keeps no origin that was resumed', async () => {
    const registry = new Registry()
    let checks = { redis: true, kafka: true }
    let paused = [
      { origin: 'https://a.example', by: 'automatic' },
      { origin: 'https://b.example', by: 'operator' },
    ]
    const metrics = createOperationsMetrics([registry], {
      readiness: () => Promise.resolve({ ready: checks.redis && checks.kafka, checks }),
      pausedOrigins: () => paused,
    })
    metrics.outcomesPublished.inc(3)
    metrics.memoryLimit.set(256 * 1024 * 1024)
    let text = await registry.metrics()
    assert.match(text, /notification_service_dependency_up\{dependency="redis"\} 1/)
    assert.match(text, /notification_service_ready 1/)
    assert.match(text, /callback_origin_paused\{origin="https:\/\/a.example",by="automatic"\} 1/)
    assert.match(text, /notification_outcomes_published_total 3/)
    assert.match(text, /notification_service_memory_limit_bytes 268435456/)

    checks = { redis: false, kafka: true }
    paused = [{ origin: 'https://b.example', by: 'operator' }]
    text = await registry.metrics()
    assert.match(text, /notification_service_dependency_up\{dependency="redis"\} 0/)
    assert.match(text, /notification_service_dependency_up\{dependency="kafka"\} 1/)
    assert.match(text, /notification_service_ready 0/)
    assert.doesNotMatch(text, /a\.example/)
  })

  it('leaves those metrics empty without sources (the bench), and the memory limit 0 until set', async () => {
    const metrics = createMetrics({ defaultMetrics: false, sources: { inFlight: () => [], lag: () => [], circuits: () => [], concurrencyLimits: () => [] } })
    const text = await metrics.registry.metrics()
    assert.doesNotMatch(text, /^notification_service_dependency_up\{/m)
    assert.match(text, /^notification_service_memory_limit_bytes 0$/m)
    assert.match(text, /^notification_outcomes_published_total 0$/m)
  })

  it('exports consumer lag per group, topic and partition', async () => {
    const metrics = createMetrics({
      defaultMetrics: false,
      sources: { inFlight: () => [], lag: () => [{ group: 'notification_service.retry.5s', topic: 'notification_service.retry.5s', partition: 2, lag: 7 }], circuits: () => [], concurrencyLimits: () => [] },
    })
    assert.match(await metrics.registry.metrics(), /kafka_consumer_lag\{group="notification_service.retry.5s",topic="notification_service.retry.5s",partition="2"\} 7/)
  })

  it("gives the event loop's busy share since the previous scrape", async () => {
    const registry = new Registry()
    createOperationsMetrics([registry], {})
    const utilization = async () => Number(/^notification_event_loop_utilization (\S+)$/m.exec(await registry.metrics())?.[1])
    // The loop's timing starts with its first turn: before it, every reading is 0.
    await new Promise((resolve) => setImmediate(resolve))
    await utilization()
    // Busy: the loop runs code for 50 ms without yielding.
    const until = performance.now() + 50
    while (performance.now() < until) {
      // spin
    }
    const busy = await utilization()
    assert.ok(busy > 0.8, `busy share ${busy}`)
    // Idle: the loop waits 50 ms for a timer.
    await new Promise((resolve) => setTimeout(resolve, 50))
    const idle = await utilization()
    assert.ok(idle < 0.5, `idle share ${idle}`)
  })
})
