// The soak's instruments: the group's lag (sampled every 2 s, and how long after a fault it
// takes to fall back under the limit), the replicas' RSS, and their logs read for fatal
// lines and unhandled errors.
import { readFileSync } from 'node:fs'
import { groupLag, shortError, withTimeout } from '../faults/kafka.ts'
import type { Fleet } from './fleet.ts'
import type { Fault } from './nemesis.ts'

/** The heap is read every this many lag samples (10 s): a /metrics scrape costs the replica more than reading /proc. */
const HEAP_EVERY = 5

export class Observer {
  readonly lag: Array<[number, number]> = []
  #timer: NodeJS.Timeout | undefined
  #sampling = false
  #samples = 0
  /** Why the last lag sample could not be taken, while none has been since (a CI soak once had none for its last 3 minutes). */
  #lastFailure: string | undefined
  readonly #group: string
  readonly #fleet: Fleet

  constructor(group: string, fleet: Fleet) {
    this.#group = group
    this.#fleet = fleet
  }

  start(): void {
    this.#timer = setInterval(() => void this.#sample(), 2000)
  }

  stop(): void {
    clearInterval(this.#timer)
  }

  /** The last lag, and how old it is when it is stale (with why the samples since failed). */
  describeLag(now: number): string {
    const last = this.lag.at(-1)
    if (last === undefined) return `? (${this.#lastFailure ?? 'no sample yet'})`
    const ageS = Math.round((now - last[0]) / 1000)
    return ageS <= 10 ? String(last[1]) : `${last[1]} (sampled ${ageS} s ago; since: ${this.#lastFailure ?? 'none taken'})`
  }

  /** Sets fault.recoveredAt once a lag sample after its end is under `limit` (gives up after `waitMs`). */
  async watchRecovery(fault: Fault, limit: number, waitMs: number, sleep: (ms: number) => Promise<void>): Promise<void> {
    const end = fault.endedAt ?? Date.now()
    while (Date.now() < end + waitMs) {
      const sample = this.lag.find(([at, lag]) => at >= end && lag < limit)
      if (sample) {
        fault.recoveredAt = sample[0]
        return
      }
      await sleep(1000)
    }
  }

  async #sample(): Promise<void> {
    if (this.#sampling) return
    this.#sampling = true
    try {
      this.#fleet.sampleRss()
      if (this.#samples++ % HEAP_EVERY === 0) await this.#fleet.sampleHeap()
      // bounded: an admin request to a broker killed meanwhile may never answer
      this.lag.push([Date.now(), await withTimeout(groupLag(this.#group), 10_000)])
      this.#lastFailure = undefined
    } catch (error) {
      // a broker down: no sample this time
      this.#lastFailure = shortError(error)
    } finally {
      this.#sampling = false
    }
  }
}

/** Fatal lines (pino level 60) and unhandled errors in the output (stdout: every log line, and stderr) of these replicas. */
export function logProblems(logFiles: string[]): string[] {
  const problems: string[] = []
  for (const name of logFiles) {
    const text = readFileSync(name, 'utf8')
    for (const line of text.split('\n')) {
      if (/"level":60/.test(line) || /Unhandled|uncaughtException|unhandledRejection|FATAL ERROR|heap out of memory/i.test(line)) {
        problems.push(`${name}: ${line.slice(0, 200)}`)
        break
      }
    }
  }
  return problems
}
