// How many records one consumer loop handles at once, learned from how they fare (pure: time
// and every finished record are inputs).
//
// Records in flight beyond what keeps the callback origins busy only queue inside the
// process, and cost: each lives longer than a young-generation collection apart, so V8 copies
// it, promotes it and marks it again. Measured (`npm run bench`, 20 origins answering at
// once): 1,000 in flight spent 70 ms each in the service, 18 ms of it in the HTTP attempt;
// 300 in flight spent 20 ms, delivered more per second and used 17 % less CPU per
// notification. Origins that answer in 50 ms need the 1,000, though.
//
// So, as Little's law and BBR size what is in flight: the loop needs its delivery rate times
// the time a record must wait on others (the origin's answer, a rate-limit slot, a retry's
// due time), plus an allowance for our own Redis and Kafka round trips, with headroom. Time a
// record spends queued inside the process counts against it. Worked out once per period
// (at least `periodMs`, and two mean stays, so a change shows in what is measured) from the
// records finished in it, and only when the limit held the loop back: an idle or lightly
// used loop keeps its limit. It starts at `min` and grows to what was measured at once, as
// TCP's slow start, up to ×2 per period; it shrinks 30 % of the way down per period (one
// period's count is noisy, and a lower limit stops intake until a quarter of it has drained),
// at most ×0.8; always within [min, max].
//
// Records that have waited on others for long (a retry not yet due, an origin that stopped
// answering) do not count against the limit: the loop counts them apart, and only
// `Tuning.maxInFlight` bounds them, so a hung origin's attempts cannot take the room that
// the other origins' records need.

export interface InFlightLimitOptions {
  /** Never fewer, and where it starts (as TCP's slow start: up to ×2 per period while more is needed). */
  readonly min: number
  /** Never more: the loop's `Tuning.maxInFlight`. */
  readonly max: number
  readonly periodMs: number
  /** Records in flight per record needed, on top of what the measurement says. */
  readonly headroom: number
  /** Time each record may spend on our own work (claim, settle, outcome record) before it counts as queueing. */
  readonly allowanceMs: number
}

export const DEFAULT_IN_FLIGHT_LIMIT: Omit<InFlightLimitOptions, 'max'> = {
  min: 128,
  periodMs: 250,
  headroom: 1.5,
  allowanceMs: 10,
}

/** Fewer finished records in a period say too little to act on. */
const MIN_SAMPLES = 20
/** A decrease moves the limit this share of the way down to what was measured: one period's count is noisy. */
const SHRINK_SMOOTHING = 0.3
const MAX_GROWTH = 2
const MAX_SHRINK = 0.8

/**
 * Time a record's handling waits on others (an HTTP attempt, a rate-limit slot, another
 * replica's claim, a retry's due time): the pipeline brackets each such wait.
 */
export class OutsideWaits {
  /** When its record was taken in (Date.now()); 0 when the caller does not say. */
  startedAt = 0
  /** Waits finished so far, ms. */
  outsideMs = 0
  /** When the wait under way began; undefined when none is. */
  since: number | undefined = undefined
  /** Where its record's handling is now (src/pipeline names the stages; 'queued' until it starts): for /metrics. */
  stage = 'queued'

  begin(now: number): void {
    this.since = now
  }

  end(now: number): void {
    if (this.since === undefined) return
    this.outsideMs += now - this.since
    this.since = undefined
  }

  /** Whether it has been waiting on others for longer than `ms` (a hung origin, a retry not yet due). */
  waitingLongerThan(ms: number, now: number): boolean {
    return this.since !== undefined && now - this.since > ms
  }
}

export class InFlightLimit {
  readonly #options: InFlightLimitOptions
  #value: number
  #periodStart: number
  #finished = 0
  #stayMs = 0
  #outsideMs = 0
  #held = false

  constructor(options: InFlightLimitOptions, now: number) {
    if (!(options.min >= 1 && options.headroom >= 1 && options.periodMs > 0)) throw new RangeError('in-flight limit: need min ≥ 1, headroom ≥ 1, periodMs > 0')
    this.#options = { ...options, min: Math.min(options.min, options.max) }
    this.#value = this.#options.min
    this.#periodStart = now
  }

  /** Records that may be in flight now. */
  get value(): number {
    return this.#value
  }

  /**
   * A record finished after `stayMs` in flight, `outsideMs` of them waiting on others;
   * `held`: the loop was not taking records (at its limit) when it finished.
   */
  finished(stayMs: number, outsideMs: number, held: boolean, now: number): void {
    this.#finished++
    this.#stayMs += stayMs
    this.#outsideMs += Math.min(outsideMs, stayMs)
    if (held) this.#held = true
    const elapsed = now - this.#periodStart
    if (elapsed < this.#options.periodMs || elapsed < (2 * this.#stayMs) / this.#finished) return
    if (this.#held && this.#finished >= MIN_SAMPLES) this.#value = this.#next(elapsed)
    this.#periodStart = now
    this.#finished = 0
    this.#stayMs = 0
    this.#outsideMs = 0
    this.#held = false
  }

  #next(elapsedMs: number): number {
    const { min, max, headroom, allowanceMs } = this.#options
    const perMs = this.#finished / elapsedMs
    const needed = perMs * (this.#outsideMs / this.#finished + allowanceMs) * headroom
    const lowest = Math.max(min, Math.floor(this.#value * MAX_SHRINK))
    const highest = Math.min(max, Math.ceil(this.#value * MAX_GROWTH))
    const target = needed >= this.#value ? needed : this.#value + SHRINK_SMOOTHING * (needed - this.#value)
    return Math.min(highest, Math.max(lowest, Math.round(target)))
  }
}
