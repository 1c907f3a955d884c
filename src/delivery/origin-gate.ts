// Per callback origin: a circuit breaker and a saturation check, so that one client whose
// endpoint fails or hangs is tried less often instead of holding the capacity every other
// client needs. Pure (time is passed in); the handler defers refused notifications to a
// retry tier without counting an attempt.
//
// closed ──(failureThreshold of the last `window` attempts failed)──► open ──(openMs)──►
//   half-open: one trial attempt; success closes it, failure opens it again for twice as
//   long (capped). A rate, not a run of failures: a busy endpoint that fails a third of the
//   time still gets its traffic; one that is down stops getting it.
// Saturated: at least `saturatedInFlight` attempts in flight, and the oldest started more
// than `slowAfterMs` ago or none has answered for `unansweredAfterMs`. A fast origin with
// many requests in flight is not saturated: it keeps answering.
import { memoByString } from '../lib/memo.ts'

export interface OriginGateOptions {
  /** Attempts remembered per origin. */
  readonly window: number
  /** Failed attempts among the last `window` that open the circuit. */
  readonly failureThreshold: number
  readonly openMs: number
  readonly maxOpenMs: number
  readonly saturatedInFlight: number
  readonly slowAfterMs: number
  /**
   * With `saturatedInFlight` in flight, an origin that has not answered anything for this
   * long is saturated too, before its oldest attempt is `slowAfterMs` old: otherwise a
   * client that stops answering collects every record routed to it meanwhile, each holding
   * a consumer slot until its timeout (measured: ~700 of 1000 slots at 7,000/s).
   */
  readonly unansweredAfterMs: number
}

export const DEFAULT_ORIGIN_GATE: OriginGateOptions = {
  window: 20,
  failureThreshold: 16,
  openMs: 30_000,
  maxOpenMs: 10 * 60_000,
  saturatedInFlight: 32,
  slowAfterMs: 2000,
  unansweredAfterMs: 1000,
}

export type CircuitState = 'closed' | 'open' | 'half-open'

export type GateDecision =
  | { ok: true; ticket: Ticket }
  | { ok: false; reason: 'saturated'; retryAt: number }
  /** `openSince`: when the circuit opened and has not closed since; `lastError`: the last failure seen. */
  | { ok: false; reason: 'circuit-open'; retryAt: number; openSince: number; lastError: string }

export interface Ticket {
  readonly origin: string
  readonly id: number
}

interface OriginState {
  readonly inFlight: Map<number, number>
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
}

export class OriginGate {
  readonly #options: OriginGateOptions
  readonly #origins = new Map<string, OriginState>()
  #tickets = 0

  constructor(options: OriginGateOptions = DEFAULT_ORIGIN_GATE) {
    this.#options = options
  }

  acquire(origin: string, now: number): GateDecision {
    const state = this.#state(origin)
    if (state.openUntil > now) return { ok: false, reason: 'circuit-open', retryAt: state.openUntil, openSince: state.openSince, lastError: state.lastError }
    const halfOpen = state.openUntil > 0
    if (halfOpen) {
      if (state.trialInFlight) return { ok: false, reason: 'circuit-open', retryAt: now + this.#options.openMs, openSince: state.openSince, lastError: state.lastError }
      state.trialInFlight = true
    } else if (state.inFlight.size >= this.#options.saturatedInFlight) {
      const oldest = state.inFlight.values().next().value ?? now
      const quietFor = now - Math.max(oldest, state.answeredAt)
      if (now - oldest >= this.#options.slowAfterMs || quietFor >= this.#options.unansweredAfterMs) {
        return { ok: false, reason: 'saturated', retryAt: now + this.#options.slowAfterMs }
      }
    }
    const ticket = { origin, id: ++this.#tickets }
    state.inFlight.set(ticket.id, now)
    return { ok: true, ticket }
  }

  /**
   * @param healthy false for answers and errors that say the endpoint is unwell (timeouts, refused connections, 5xx, 429)
   * @param error what went wrong, remembered as the origin's last error
   */
  release(ticket: Ticket, healthy: boolean, now: number, error?: string): void {
    const state = this.#origins.get(ticket.origin)
    if (!state || !state.inFlight.delete(ticket.id)) return
    state.answeredAt = now
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

  /** Origins whose circuit is not closed, for metrics. */
  unhealthy(now: number): Array<{ origin: string; state: CircuitState }> {
    const list: Array<{ origin: string; state: CircuitState }> = []
    for (const [origin, state] of this.#origins) if (state.openUntil > 0) list.push({ origin, state: state.openUntil > now ? 'open' : 'half-open' })
    return list
  }

  #state(origin: string): OriginState {
    let state = this.#origins.get(origin)
    if (!state) {
      state = { inFlight: new Map(), recent: [], next: 0, failures: 0, openUntil: 0, openMs: this.#options.openMs, trialInFlight: false, answeredAt: 0, openSince: 0, lastError: '' }
      this.#origins.set(origin, state)
    }
    return state
  }

  #remember(state: OriginState, failed: boolean): void {
    if (state.recent.length < this.#options.window) state.recent.push(failed)
    else {
      if (state.recent[state.next]) state.failures--
      state.recent[state.next] = failed
      state.next = (state.next + 1) % this.#options.window
    }
    if (failed) state.failures++
  }

  #forget(state: OriginState): void {
    state.recent.length = 0
    state.next = 0
    state.failures = 0
  }

  /** An origin with nothing in flight, a closed circuit and no recent failure needs no state. */
  #dropIfIdle(origin: string, state: OriginState): void {
    if (state.inFlight.size === 0 && state.openUntil === 0 && state.failures === 0) this.#origins.delete(origin)
  }
}

/** "scheme://host:port" of a callback URL: what a circuit is kept for. Remembered for the last few hundred URLs (parsing costs ~1 µs). */
export const originOf: (url: string) => string = memoByString((url) => URL.parse(url)?.origin ?? url, 256)
