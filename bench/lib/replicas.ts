// The service processes of one run (`--replicas N`, 1 by default): the same configuration, one
// consumer group, as replicas in production; each with its own HTTP port, log directory and
// allocation probe file. What the bench reads from each: readiness, the event-loop gauge every
// second, its counters at the end.
import { scrapeMetrics, stopService, waitReady, type ServiceProcess } from './service.ts'

export interface Replica {
  /** 1, 2, … */
  readonly index: number
  /** Its name in the bench's ProcSampler: "service" for the first (as in a run of one), then "service#2", … */
  readonly name: string
  readonly process: ServiceProcess
  /** Its bench/lib/alloc-probe.ts output (ALLOC_PROBE_FILE). */
  readonly allocFile: string
  /** Its notification_event_loop_utilization, scraped every second: each value covers the second before its t. */
  readonly eluScrapes: Array<{ t: number; elu: number }>
}

export function replicaName(index: number): string {
  return index === 1 ? 'service' : `service#${index}`
}

/** When the last replica answered /readyz (every consumer loop of each joined the group). */
export async function waitAllReady(replicas: readonly Replica[], timeoutMs: number): Promise<number> {
  const readyAt = await Promise.all(replicas.map((replica) => waitReady(replica.process, timeoutMs)))
  return Math.max(...readyAt)
}

/** Scrapes each replica's event-loop utilisation, not awaited: a value is kept when its scrape answers. */
export function scrapeEventLoops(replicas: readonly Replica[]): void {
  for (const replica of replicas) {
    void scrapeMetrics(replica.process).then((scraped) => {
      const elu = scraped.notification_event_loop_utilization
      if (elu !== undefined) replica.eluScrapes.push({ t: Date.now(), elu })
    })
  }
}

/** Each replica's counters (scrapeMetrics: summed over labels), in replica order. */
export function scrapeAll(replicas: readonly Replica[]): Promise<Array<Record<string, number>>> {
  return Promise.all(replicas.map((replica) => scrapeMetrics(replica.process)))
}

/** The counters of all replicas added up, as one service would report them. */
export function addMetrics(perReplica: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const total: Record<string, number> = {}
  for (const metrics of perReplica) for (const [name, value] of Object.entries(metrics)) total[name] = (total[name] ?? 0) + value
  return total
}

export function anyExited(replicas: readonly Replica[]): boolean {
  return replicas.some((replica) => !replica.process.isRunning())
}

/** Stops them all at once (SIGTERM, SIGKILL after the grace), in replica order. */
export function stopAll(replicas: readonly Replica[], graceMs?: number): Promise<Array<Awaited<ReturnType<typeof stopService>>>> {
  return Promise.all(replicas.map((replica) => stopService(replica.process, graceMs)))
}
