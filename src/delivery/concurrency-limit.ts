// How many attempts one callback origin may have in flight, learned from how it answers, in
// the manner of TCP congestion control and Netflix's concurrency-limits (AIMD). Pure: time
// and every answer are inputs.
//
// - Slow start: from `initial`, +1 per answer (doubling per round trip) until the origin
//   first signals trouble; then +1 per round trip (+1/limit per answer), up to `max`.
// - It grows only while latency holds (the recent round-trip time within `latencyTolerance`×
//   the long-run one, give or take a few ms) and while the limit is used (at least half of it in flight): an idle
//   origin does not earn a limit it never showed it can take.
// - The answers whose rule says `lowersLimit` (answers.ts) multiply it by `backoff`, once per round
//   trip: answers to attempts that started before the last decrease belong to the round
//   already counted (a hung origin's 32 timeouts halve the limit once, not 32 times).
// - Never below `min`, never above `max` (CALLBACK_MAX_CONNECTIONS_PER_ORIGIN).
import { DEFAULT_MAX_CONNECTIONS_PER_ORIGIN } from '../config.ts'

export interface ConcurrencyLimitOptions {
  readonly initial: number
  readonly min: number
  readonly max: number
  /** Factor applied on an overload signal (0 < backoff < 1). */
  readonly backoff: number
  /** Growth stops while the recent round-trip time exceeds this multiple of the long-run one. */
  readonly latencyTolerance: number
}

/**
 * Starts where the fixed 32 connections per origin of earlier versions were, so no origin
 * starts worse off; an origin that keeps failing keeps 8, which the circuit breaker then
 * judges; halving is TCP Reno's decrease.
 */
export const DEFAULT_CONCURRENCY_LIMIT: ConcurrencyLimitOptions = {
  initial: 32,
  min: 8,
  max: DEFAULT_MAX_CONNECTIONS_PER_ORIGIN,
  backoff: 0.5,
  latencyTolerance: 2,
}

/** The default bounds with another cap: initial and min are lowered to it when it is below them. */
export function concurrencyLimitUpTo(max: number, defaults: ConcurrencyLimitOptions = DEFAULT_CONCURRENCY_LIMIT): ConcurrencyLimitOptions {
  return { ...defaults, max, initial: Math.min(defaults.initial, max), min: Math.min(defaults.min, max) }
}

/** Weight of a new round-trip sample: recent (about the last 5 answers) and long-run (about the last 100). */
const SHORT_RTT_WEIGHT = 0.2
const LONG_RTT_WEIGHT = 0.01
/** Latency differences this small are our event loop's, not the origin's: they never stop growth. */
const LATENCY_SLACK_MS = 5

export interface RoundTrip {
  /** When the attempt started (its admission): tells which round trip it belongs to. */
  readonly startedAt: number
  readonly durationMs: number
  /** Attempts of this origin in flight when it ended, itself included. */
  readonly inFlight: number
}

export class ConcurrencyLimit {
  readonly #options: ConcurrencyLimitOptions
  #limit: number
  /** Slow start below this (TCP's ssthresh); set at each decrease. */
  #slowStartBelow: number
  #decreasedAt = Number.NEGATIVE_INFINITY
  #shortRttMs = 0
  #longRttMs = 0
  #answers = 0

  constructor(options: ConcurrencyLimitOptions) {
    if (!(options.min >= 1 && options.min <= options.initial && options.initial <= options.max)) {
      throw new RangeError(`concurrency limit: need 1 ≤ min (${options.min}) ≤ initial (${options.initial}) ≤ max (${options.max})`)
    }
    this.#options = options
    this.#limit = options.initial
    this.#slowStartBelow = options.max
  }

  /** Attempts that may be in flight now. */
  get value(): number {
    return Math.floor(this.#limit)
  }

  /**
   * What the limit reaches within a few round trips if the origin keeps answering well: in
   * slow start (it doubles every round trip) where slow start ends, else the limit itself.
   */
  get reachable(): number {
    return Math.max(this.value, Math.floor(this.#slowStartBelow))
  }

  /** Smoothed recent round-trip time in ms; 0 before the first answer. */
  get rttMs(): number {
    return this.#shortRttMs
  }

  /** Whether it holds nothing learned: at its initial value, never decreased. */
  get pristine(): boolean {
    return this.#limit === this.#options.initial && this.#decreasedAt === Number.NEGATIVE_INFINITY
  }

  /** An answer whose rule does not lower the limit (answers.ts). */
  answered(answer: RoundTrip): void {
    this.#observe(answer.durationMs)
    if (answer.inFlight * 2 < this.#limit) return
    if (this.#shortRttMs > this.#options.latencyTolerance * this.#longRttMs + LATENCY_SLACK_MS) return
    this.#limit = Math.min(this.#options.max, this.#limit + (this.#limit < this.#slowStartBelow ? 1 : 1 / this.#limit))
  }

  /** An answer whose rule says `lowersLimit` (answers.ts). */
  overloaded(answer: RoundTrip, now: number): void {
    this.#observe(answer.durationMs)
    if (answer.startedAt < this.#decreasedAt) return
    this.#limit = Math.max(this.#options.min, this.#limit * this.#options.backoff)
    this.#slowStartBelow = this.#limit
    this.#decreasedAt = now
  }

  #observe(durationMs: number): void {
    if (this.#answers++ === 0) {
      this.#shortRttMs = durationMs
      this.#longRttMs = durationMs
      return
    }
    this.#shortRttMs += SHORT_RTT_WEIGHT * (durationMs - this.#shortRttMs)
    this.#longRttMs += LONG_RTT_WEIGHT * (durationMs - this.#longRttMs)
  }
}
