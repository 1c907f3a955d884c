// Metrics an operator's alerts need beyond the pipeline's counters (deploy/prometheus/alerts.yaml):
// whether Redis and Kafka are reachable and the replica is ready (the same checks as
// /readyz, made when /metrics is scraped), the origins paused and by whom, records that
// reached the outcomes topic, how long produce requests take, and the memory limit this
// replica sized itself to.
// One self-contained block: createMetrics() spreads it into the service's metrics.
import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

/** Values read when /metrics is scraped (absent ones: those metrics stay empty, as in the bench). */
export interface OperationsSources {
  /** The readiness checks (/readyz): each dependency, true when reachable. */
  readiness?(): Promise<{ ready: boolean; checks: Record<string, boolean> }>
  /** Callback origins paused now (shared by the group), and whether by an operator or automatically. */
  pausedOrigins?(): Array<{ origin: string; by: string }>
}

export function createOperationsMetrics(registers: Registry[], sources: OperationsSources) {
  return {
    dependencyUp: new Gauge({
      name: 'notification_service_dependency_up',
      help: 'Whether a dependency is reachable from this replica (1) or not (0): redis (answers a PING), kafka (every consumer loop is in its group)',
      labelNames: ['dependency'],
      registers,
      async collect() {
        if (sources.readiness === undefined) return
        const { checks } = await sources.readiness()
        for (const [dependency, up] of Object.entries(checks)) this.set({ dependency }, up ? 1 : 0)
      },
    }),
    ready: new Gauge({
      name: 'notification_service_ready',
      help: 'Whether this replica is ready (1, /readyz answers 200) or not (0)',
      registers,
      async collect() {
        if (sources.readiness !== undefined) this.set((await sources.readiness()).ready ? 1 : 0)
      },
    }),
    originsPaused: new Gauge({
      name: 'callback_origin_paused',
      help: 'Callback origins paused now (1), by operator or automatic (its circuit stayed open CALLBACK_AUTO_PAUSE_AFTER); the same on every replica',
      labelNames: ['origin', 'by'],
      registers,
      collect() {
        this.reset()
        for (const { origin, by } of sources.pausedOrigins?.() ?? []) this.set({ origin, by }, 1)
      },
    }),
    outcomesPublished: new Counter({
      name: 'notification_outcomes_published_total',
      help: 'Records acknowledged by Kafka on the outcomes topic (final outcomes and origin events)',
      registers,
    }),
    produceDuration: new Histogram({
      name: 'kafka_produce_duration_seconds',
      help: 'Time from sending a produce request (acks=all) to its answer, or failure; records wait about half this long to share one (2–50 ms)',
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
      registers,
    }),
    memoryLimit: new Gauge({
      name: 'notification_service_memory_limit_bytes',
      help: 'The memory this replica sized itself to (MEMORY_LIMIT_MB or the container limit); 0 without one',
      registers,
    }),
    eventLoopUtilization: eventLoopUtilizationGauge(registers),
  }
}

/**
 * The share of the time since the previous scrape (since start, at the first) that the event
 * loop was running code rather than waiting for I/O or timers (`performance.eventLoopUtilization()`):
 * with work waiting (a backlog) and it well below 1, records wait on something other than this
 * process's CPU. prom-client's default metrics have the loop's lag, not this.
 */
function eventLoopUtilizationGauge(registers: Registry[]) {
  let previous: EventLoopUtilization | undefined
  return new Gauge({
    name: 'notification_event_loop_utilization',
    help: 'Share (0–1) of the time since the previous scrape that the event loop was busy running code, not waiting for I/O or timers',
    registers,
    collect() {
      const now = performance.eventLoopUtilization()
      this.set(previous === undefined ? now.utilization : performance.eventLoopUtilization(now, previous).utilization)
      previous = now
    },
  })
}
