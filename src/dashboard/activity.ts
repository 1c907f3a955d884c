// What this replica did lately, for the dashboard: per-second counts of delivered and failed
// attempts over a sliding window, and the most recent settled attempts. Pure and bounded:
// fixed-size rings, no timers; the caller passes the time.

export type ActivityResult = 'delivered' | 'retrying' | 'failed'

export interface ActivityEvent {
  readonly at: number
  readonly processingId: number
  readonly kind: string
  readonly result: ActivityResult
  readonly attempts: number
  readonly statusCode: number | null
  readonly error: string | null
  readonly durationMs: number
  readonly callbackOrigin: string
}

export interface ActivitySeries {
  /** Start of each second (ms since epoch), oldest first; the current, unfinished second is left out. */
  readonly t: number[]
  readonly delivered: number[]
  readonly failed: number[]
}

export class ActivityLog {
  readonly #windowSeconds: number
  readonly #delivered: Uint32Array
  readonly #failed: Uint32Array
  /** Which second (ms since epoch / 1000) each slot currently counts. */
  readonly #slotSecond: Float64Array
  readonly #recent: Array<ActivityEvent | undefined>
  #recentNext = 0
  #totals = { delivered: 0, failed: 0 }

  constructor(options: { windowSeconds?: number; recentSize?: number } = {}) {
    this.#windowSeconds = options.windowSeconds ?? 300
    this.#delivered = new Uint32Array(this.#windowSeconds)
    this.#failed = new Uint32Array(this.#windowSeconds)
    this.#slotSecond = new Float64Array(this.#windowSeconds).fill(-1)
    this.#recent = new Array<ActivityEvent | undefined>(options.recentSize ?? 100)
  }

  note(event: ActivityEvent): void {
    const second = Math.floor(event.at / 1000)
    const slot = second % this.#windowSeconds
    if (this.#slotSecond[slot] !== second) {
      this.#slotSecond[slot] = second
      this.#delivered[slot] = 0
      this.#failed[slot] = 0
    }
    if (event.result === 'delivered') {
      this.#delivered[slot] = (this.#delivered[slot] ?? 0) + 1
      this.#totals.delivered++
    } else {
      this.#failed[slot] = (this.#failed[slot] ?? 0) + 1
      this.#totals.failed++
    }
    this.#recent[this.#recentNext] = event
    this.#recentNext = (this.#recentNext + 1) % this.#recent.length
  }

  /** Attempts per second over the window, ending with the last complete second before `now`. */
  series(now: number): ActivitySeries {
    const current = Math.floor(now / 1000)
    const series: ActivitySeries = { t: [], delivered: [], failed: [] }
    for (let second = current - this.#windowSeconds + 1; second < current; second++) {
      const slot = ((second % this.#windowSeconds) + this.#windowSeconds) % this.#windowSeconds
      const counted = this.#slotSecond[slot] === second
      series.t.push(second * 1000)
      series.delivered.push(counted ? (this.#delivered[slot] ?? 0) : 0)
      series.failed.push(counted ? (this.#failed[slot] ?? 0) : 0)
    }
    return series
  }

  /** Settled attempts since start. */
  get totals(): { delivered: number; failed: number } {
    return { ...this.#totals }
  }

  /** The latest settled attempts, newest first. */
  recent(limit = this.#recent.length): ActivityEvent[] {
    const events: ActivityEvent[] = []
    for (let i = 1; i <= this.#recent.length && events.length < limit; i++) {
      const event = this.#recent[(this.#recentNext - i + this.#recent.length) % this.#recent.length]
      if (event) events.push(event)
    }
    return events
  }
}
