// How many records one consumer loop handles at once, learned from how they fare (pure: time,
// every finished record and the event loop's idle time are inputs).
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
// That figure alone starved the CPU on one fast origin: our own round trips (claim batch,
// settle batch, outcome record) took ~18 ms a record, not the 10 ms allowed, so the limit held
// the loop back with its event loop idle 11–16 % of a backlog drain (docs/performance.md,
// "Where a notification's time goes"); a fixed larger allowance would overshoot elsewhere. So
// the event loop's busy share over the period decides which way to err, as BBR probes for
// more bandwidth: held back with idle time left (busy below `SPARE_BELOW`), the limit probes
// up ×1.25 (BBR's gain) past what Little's law says, since more in flight is then more
// delivered; busy from `SATURATED_FROM` on, records queue for the CPU, and it shrinks toward
// the Little's-law figure as before (20 fast origins with 1,000 in flight, the case above,
// read 97 % busy, so their loop comes back down); in between it keeps what it has unless
// Little's law asks for more. So the limit settles near the smallest that keeps the CPU busy,
// never below Little's law; what bounds all records (`Tuning.maxInFlight`, the bytes in
// flight) and each origin's share (origin-gate.ts) is unchanged.
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
/** Busy less than this share of a period: the CPU had room, so a limit that held the loop back probes up. */
export const SPARE_BELOW = 0.95
/** Busy at least this share of a period: records queue for the CPU, so the limit shrinks toward what Little's law needs. */
export const SATURATED_FROM = 0.97
/** Growth per period while probing (BBR's probe gain). */
const PROBE_GAIN = 1.25

/**
 * The event loop's idle time so far, ms: libuv's counter, `performance.nodeTiming.idleTime`,
 * which `performance.eventLoopUtilization()` (and so the notification_event_loop_utilization
 * gauge) reads too. Read once a period, not per record.
 */
export type LoopIdleClock = () => number

/**
 * Time a record's handling waits on others (an HTTP attempt, a rate-limit slot, another
 * replica's claim, a retry's due time): the pipeline brackets each such wait.
 */
export class OutsideWaits {
  /** Waits finished so far, ms. */
  outsideMs = 0
  /** When the wait under way began; undefined when none is. */
  since: number | undefined = undefined

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
  readonly #loopIdleMs: LoopIdleClock
  #periodIdleMs: number

  constructor(options: InFlightLimitOptions, now: number, loopIdleMs: LoopIdleClock) {
    if (!(options.min >= 1 && options.headroom >= 1 && options.periodMs > 0)) throw new RangeError('in-flight limit: need min ≥ 1, headroom ≥ 1, periodMs > 0')
    this.#options = { ...options, min: Math.min(options.min, options.max) }
    this.#value = this.#options.min
    this.#periodStart = now
    this.#loopIdleMs = loopIdleMs
    this.#periodIdleMs = loopIdleMs()
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
    const idleMs = this.#loopIdleMs()
    const busy = Math.min(1, Math.max(0, 1 - (idleMs - this.#periodIdleMs) / elapsed))
    if (this.#held && this.#finished >= MIN_SAMPLES) this.#value = this.#next(elapsed, busy)
    this.#periodStart = now
    this.#periodIdleMs = idleMs
    this.#finished = 0
    this.#stayMs = 0
    this.#outsideMs = 0
    this.#held = false
  }

  /** `busy`: the event loop's busy share (0–1) over the period. */
  #next(elapsedMs: number, busy: number): number {
    const { min, max, headroom, allowanceMs } = this.#options
    const value = this.#value
    const perMs = this.#finished / elapsedMs
    const needed = perMs * (this.#outsideMs / this.#finished + allowanceMs) * headroom
    const lowest = Math.max(min, Math.floor(value * MAX_SHRINK))
    const highest = Math.min(max, Math.ceil(value * MAX_GROWTH))
    let target: number
    if (busy < SPARE_BELOW) target = Math.max(needed, value * PROBE_GAIN)
    else if (needed >= value) target = needed
    else target = busy >= SATURATED_FROM ? value + SHRINK_SMOOTHING * (needed - value) : value
    return Math.min(highest, Math.max(lowest, Math.round(target)))
  }
}
