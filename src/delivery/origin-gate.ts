// Per destination (the transport's key; HTTP: the callback origin): a circuit breaker and a concurrency limit, so that one client whose
// endpoint fails or hangs is tried less often instead of holding the capacity every other
// client needs, while a client that answers well gets as much as it takes. Pure (time is
// passed in); refused notifications are deferred to a retry tier without counting an
// attempt, and origin-admission.ts lets a notification wait briefly for a slot.
//
// closed ──(failureThreshold of the last `window` attempts failed)──► open ──(openMs)──►
//   (failed: the answers whose rule says `countsAgainstHealth`, answers.ts)
//   half-open: one trial attempt; success closes it, failure opens it again for twice as
//   long (capped). A rate, not a run of failures: a busy endpoint that fails a third of the
//   time still gets its traffic; one that is down stops getting it.
// Limit: each origin may have `limit` attempts in flight (admission to the end of the
//   attempt; never more than its destination's max_connections, where it has one), adapted
//   to its answers (concurrency-limit.ts: grows while it answers well, shrinks on the answers whose rule says `lowersLimit`, answers.ts). At its limit, a
//   notification may wait for a slot when the origin is answering and the wait is likely short (`wait`); it is refused
//   (`saturated`) when nothing answered for `unansweredAfterMs`, so a hung origin holds
//   its limit and no more, or when those already waiting would use up `maxWaitMs` (judged
//   from its smoothed round-trip time; before its first answer, only `unansweredAfterMs`
//   bounds the wait).
import type { AnswerRule } from './answers.ts'
import { ConcurrencyLimit, DEFAULT_CONCURRENCY_LIMIT, concurrencyLimitUpTo, type ConcurrencyLimitOptions } from './concurrency-limit.ts'

export interface OriginGateOptions {
  /** Attempts remembered per origin. */
  readonly window: number
  /** Failed attempts among the last `window` that open the circuit. */
  readonly failureThreshold: number
  readonly openMs: number
  readonly maxOpenMs: number
  /** Attempts in flight per origin: where each origin's limit starts, its bounds, how it moves. */
  readonly concurrency: ConcurrencyLimitOptions
  /** Longest wait for a slot at an origin at its limit; what is expected to wait longer is refused. */
  readonly maxWaitMs: number
  /**
   * At its limit, an origin that has not answered anything for this long is saturated: no
   * notification waits for it. Otherwise a client that stops answering collects every record
   * routed to it meanwhile, each holding a consumer slot until its timeout (measured: ~700
   * of 1000 slots at 7,000/s).
   */
  readonly unansweredAfterMs: number
  /** An idle origin's learned limit and failures are forgotten after this long. */
  readonly forgetAfterMs: number
  /**
   * An origin's own ceiling for its limit (its destination's max_connections), in place of
   * `concurrency.max`; undefined = none. Asked at each admission, so a reloaded value applies.
   */
  readonly maxConcurrencyOf?: (origin: string) => number | undefined
}

export const DEFAULT_ORIGIN_GATE: OriginGateOptions = {
  window: 20,
  failureThreshold: 16,
  openMs: 30_000,
  maxOpenMs: 10 * 60_000,
  concurrency: DEFAULT_CONCURRENCY_LIMIT,
  maxWaitMs: 5000,
  unansweredAfterMs: 1000,
  forgetAfterMs: 10 * 60_000,
}

/** What the gate reads of an answer's rule. */
export type AnswerEffect = Pick<AnswerRule, 'countsAgainstHealth' | 'lowersLimit' | 'judgesOrigin'>

export type CircuitState = 'closed' | 'open' | 'half-open'

/**
 * Not now: deferred to a retry tier, no earlier than `retryAt`. An open circuit says since
 * when it is open (through failed trials) and the last error seen (for the automatic pause).
 */
export type Refusal =
  | { readonly ok: false; readonly reason: 'saturated'; readonly retryAt: number }
  | { readonly ok: false; readonly reason: 'circuit-open'; readonly retryAt: number; readonly openSince: number; readonly lastError: string }

export type GateDecision =
  | { ok: true; ticket: Ticket }
  | Refusal
  /** At its limit but answering: a slot is likely free within `waitMs`; ask again when one is. */
  | { ok: false; reason: 'wait'; waitMs: number }

export interface Ticket {
  readonly origin: string
  readonly id: number
}

interface OriginEntry {
  /** Ticket id → when it was admitted, oldest first. */
  readonly inFlight: Map<number, number>
  limit: ConcurrencyLimit
  /** The origin's own ceiling the limit was made with (maxConcurrencyOf). */
  ceiling: number | undefined
  /** Last results, true = failed; a ring of `window` entries. */
  readonly recent: boolean[]
  next: number
  failures: number
  openUntil: number
  openMs: number
  trialInFlight: boolean
  /** When the origin last answered (any attempt released), 0 if never. */
  answeredAt: number
  /** When the circuit opened, through any half-open trials that failed; 0 while closed. */
  openSince: number
  lastError: string
  /** Last admission or answer: idle origins are forgotten `forgetAfterMs` after it. */
  usedAt: number
}

export class OriginGate {
  readonly #options: OriginGateOptions
  readonly #origins = new Map<string, OriginEntry>()
  #tickets = 0
  #sweepAt = 0

  constructor(options: OriginGateOptions = DEFAULT_ORIGIN_GATE) {
    this.#options = options
  }

  /** @param waiting notifications already waiting for a slot at this origin (ahead of this one) */
  acquire(origin: string, now: number, waiting = 0): GateDecision {
    if (now >= this.#sweepAt) this.#sweep(now)
    const state = this.#state(origin, now)
    if (state.openUntil > now) return { ok: false, reason: 'circuit-open', retryAt: state.openUntil, openSince: state.openSince, lastError: state.lastError }
    const halfOpen = state.openUntil > 0
    if (halfOpen) {
      if (state.trialInFlight) return { ok: false, reason: 'circuit-open', retryAt: now + this.#options.openMs, openSince: state.openSince, lastError: state.lastError }
      state.trialInFlight = true
    } else if (state.inFlight.size >= state.limit.value) {
      const { maxWaitMs } = this.#options
      if (this.#quiet(state, now)) return { ok: false, reason: 'saturated', retryAt: now + maxWaitMs }
      // A slot frees about every rtt/limit ms (in slow start: the limit it is doubling towards).
      // Not the oldest ticket's age: tickets are taken before the Redis claim, whose wait it includes.
      if ((waiting + 1) * state.limit.rttMs > state.limit.reachable * maxWaitMs) return { ok: false, reason: 'saturated', retryAt: now + maxWaitMs }
      return { ok: false, reason: 'wait', waitMs: maxWaitMs }
    }
    const ticket = { origin, id: ++this.#tickets }
    state.inFlight.set(ticket.id, now)
    state.usedAt = now
    return { ok: true, ticket }
  }

  /**
   * @param answer what the attempt's answer means for its origin: its rule in the answer table (answers.ts)
   * @param durationMs how long the attempt took
   * @param error what went wrong, remembered as the origin's last error
   */
  release(ticket: Ticket, answer: AnswerEffect, now: number, durationMs: number, error?: string): void {
    if (!answer.judgesOrigin) return this.abandon(ticket)
    const state = this.#origins.get(ticket.origin)
    const startedAt = state?.inFlight.get(ticket.id)
    if (!state || startedAt === undefined) return
    const round = { startedAt, durationMs, inFlight: state.inFlight.size }
    const healthy = !answer.countsAgainstHealth
    state.inFlight.delete(ticket.id)
    if (answer.lowersLimit) state.limit.overloaded(round, now)
    else state.limit.answered(round)
    state.answeredAt = now
    state.usedAt = now
    if (error !== undefined) state.lastError = error
    const wasTrial = state.openUntil > 0 && state.trialInFlight
    if (wasTrial) state.trialInFlight = false
    this.#remember(state, !healthy)
    if (healthy) {
      if (state.openUntil > 0) {
        state.openUntil = 0
        state.openSince = 0
        state.openMs = this.#options.openMs
        this.#forget(state)
      }
    } else if (wasTrial) {
      state.openMs = Math.min(state.openMs * 2, this.#options.maxOpenMs)
      state.openUntil = now + state.openMs
    } else if (state.openUntil === 0 && state.failures >= this.#options.failureThreshold) {
      state.openUntil = now + state.openMs
      state.openSince = now
    }
    this.#dropIfIdle(ticket.origin, state)
  }

  /** Gives a ticket back when no attempt was made: says nothing about the origin's health. */
  abandon(ticket: Ticket): void {
    const state = this.#origins.get(ticket.origin)
    if (!state || !state.inFlight.delete(ticket.id)) return
    if (state.openUntil > 0) state.trialInFlight = false
    this.#dropIfIdle(ticket.origin, state)
  }

  /** Forgets an origin's failures and closes its circuit (an operator resumed it: try it afresh). */
  reset(origin: string): void {
    const state = this.#origins.get(origin)
    if (!state) return
    state.openUntil = 0
    state.openSince = 0
    state.openMs = this.#options.openMs
    state.trialInFlight = false
    this.#forget(state)
    this.#dropIfIdle(origin, state)
  }

  /** At its limit with nothing answered for `unansweredAfterMs`: no notification should wait for it. */
  quiet(origin: string, now: number): boolean {
    const state = this.#origins.get(origin)
    return state !== undefined && state.inFlight.size >= state.limit.value && this.#quiet(state, now)
  }

  /** Origins whose circuit is not closed, for metrics. */
  unhealthy(now: number): Array<{ origin: string; state: CircuitState }> {
    const list: Array<{ origin: string; state: CircuitState }> = []
    for (const [origin, state] of this.#origins) if (state.openUntil > 0) list.push({ origin, state: state.openUntil > now ? 'open' : 'half-open' })
    return list
  }

  /** Origins whose concurrency limit moved from where it starts, for metrics. */
  limits(): Array<{ origin: string; limit: number }> {
    const list: Array<{ origin: string; limit: number }> = []
    for (const [origin, state] of this.#origins) if (!state.limit.pristine) list.push({ origin, limit: state.limit.value })
    return list
  }

  #state(origin: string, now: number): OriginEntry {
    let state = this.#origins.get(origin)
    const ceiling = this.#options.maxConcurrencyOf?.(origin)
    if (state !== undefined && state.ceiling !== ceiling) {
      // Its destination's max_connections changed: the limit starts again under the new ceiling.
      state.limit = this.#limitUnder(ceiling)
      state.ceiling = ceiling
    }
    if (!state) {
      state = {
        inFlight: new Map(),
        limit: this.#limitUnder(ceiling),
        ceiling,
        recent: [],
        next: 0,
        failures: 0,
        openUntil: 0,
        openMs: this.#options.openMs,
        trialInFlight: false,
        answeredAt: 0,
        usedAt: now,
        openSince: 0,
        lastError: '',
      }
      this.#origins.set(origin, state)
    }
    return state
  }

  #limitUnder(ceiling: number | undefined): ConcurrencyLimit {
    const { concurrency } = this.#options
    return new ConcurrencyLimit(ceiling === undefined ? concurrency : concurrencyLimitUpTo(ceiling, concurrency))
  }

  #quiet(state: OriginEntry, now: number): boolean {
    const oldest = state.inFlight.values().next().value ?? now
    return now - Math.max(oldest, state.answeredAt) >= this.#options.unansweredAfterMs
  }

  #remember(state: OriginEntry, failed: boolean): void {
    if (state.recent.length < this.#options.window) state.recent.push(failed)
    else {
      if (state.recent[state.next]) state.failures--
      state.recent[state.next] = failed
      state.next = (state.next + 1) % this.#options.window
    }
    if (failed) state.failures++
  }

  #forget(state: OriginEntry): void {
    state.recent.length = 0
    state.next = 0
    state.failures = 0
  }

  /** An origin with nothing in flight, a closed circuit, no recent failure and nothing learned needs no state. */
  #dropIfIdle(origin: string, state: OriginEntry): void {
    if (state.inFlight.size === 0 && state.openUntil === 0 && state.failures === 0 && state.limit.pristine) this.#origins.delete(origin)
  }

  /** Forgets origins idle for `forgetAfterMs` with a closed circuit: what was learned of them may no longer hold. */
  #sweep(now: number): void {
    const { forgetAfterMs } = this.#options
    this.#sweepAt = now + forgetAfterMs / 10
    for (const [origin, state] of this.#origins) {
      if (state.inFlight.size === 0 && state.openUntil === 0 && now - state.usedAt >= forgetAfterMs) this.#origins.delete(origin)
    }
  }
}
