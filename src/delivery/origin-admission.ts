// The origin gate with a short line in front of it: a notification whose callback origin is
// at its concurrency limit but answering waits here, first come first served, for a slot
// (at most the gate's `maxWaitMs`, then it is refused as saturated and deferred to a retry
// tier without an attempt). Each answer or given-back ticket hands its slot to the next in
// line. Once the origin has gone quiet (nothing answered for a while: it hangs), the whole
// line is sent away at once, so a hung origin holds no records beyond its limit. The gate
// decides everything; this only waits.
import { Interrupted } from '../errors.ts'
import type { AnswerEffect, OriginGate, Refusal, Ticket } from './origin-gate.ts'

/** What admit() gives: a ticket to make the attempt, or the gate's refusal. */
export type TicketOrRefusal = { ok: true; ticket: Ticket } | Refusal

/** How often a line looks whether its origin went quiet and whose wait is over. */
const CHECK_EVERY_MS = 200

interface Waiter {
  /** When it stops waiting (FIFO: never earlier than the one ahead of it). */
  readonly deadline: number
  readonly settle: (admission: TicketOrRefusal) => void
}

interface Line {
  readonly waiters: Waiter[]
  timer: NodeJS.Timeout | undefined
}

export class OriginAdmission {
  readonly #gate: OriginGate
  /** Per origin, the notifications waiting for a slot, oldest first. */
  readonly #lines = new Map<string, Line>()

  constructor(gate: OriginGate) {
    this.#gate = gate
  }

  /** A ticket, at once or once a slot is free, or a refusal; rejects with Interrupted when `signal` aborts first. */
  admit(origin: string, signal: AbortSignal): TicketOrRefusal | Promise<TicketOrRefusal> {
    const now = Date.now()
    const line = this.#lines.get(origin)
    const decision = this.#gate.acquire(origin, now, line?.waiters.length ?? 0)
    if (decision.ok || decision.reason !== 'wait') return decision
    if (signal.aborted) return Promise.reject(new Interrupted())
    return new Promise<TicketOrRefusal>((resolve, reject) => {
      const { waiters } = line ?? this.#open(origin)
      const leave = () => {
        signal.removeEventListener('abort', onAbort)
        const at = waiters.indexOf(waiter)
        if (at >= 0) waiters.splice(at, 1)
        if (waiters.length === 0) this.#close(origin)
      }
      const waiter: Waiter = {
        deadline: now + decision.waitMs,
        settle: (admission) => {
          leave()
          resolve(admission)
        },
      }
      const onAbort = () => {
        leave()
        reject(new Interrupted())
      }
      signal.addEventListener('abort', onAbort, { once: true })
      waiters.push(waiter)
    })
  }

  /** After an attempt: see OriginGate.release. Its slot goes to the next in line. */
  release(ticket: Ticket, answer: AnswerEffect, durationMs: number, error?: string): void {
    this.#gate.release(ticket, answer, Date.now(), durationMs, error)
    this.#next(ticket.origin)
  }

  /** A ticket given back without an attempt: see OriginGate.abandon. */
  abandon(ticket: Ticket): void {
    this.#gate.abandon(ticket)
    this.#next(ticket.origin)
  }

  /** Hands free slots to the oldest waiters; a refusal (circuit opened) reaches them too. */
  #next(origin: string): void {
    const waiters = this.#lines.get(origin)?.waiters
    if (!waiters) return
    const now = Date.now()
    for (let waiter = waiters[0]; waiter !== undefined; waiter = waiters[0]) {
      const decision = this.#gate.acquire(origin, now)
      if (!decision.ok && decision.reason === 'wait') return
      waiter.settle(decision)
    }
  }

  /** Sends away those whose wait is over, or everyone once the origin has gone quiet. */
  #check(origin: string): void {
    const line = this.#lines.get(origin)
    if (!line) return
    line.timer = undefined
    const now = Date.now()
    const quiet = this.#gate.quiet(origin, now)
    const { waiters } = line
    for (let waiter = waiters[0]; waiter !== undefined && (quiet || waiter.deadline <= now); waiter = waiters[0]) {
      waiter.settle({ ok: false, reason: 'saturated', retryAt: now })
    }
    if (waiters.length > 0) this.#schedule(origin, line, now)
  }

  #open(origin: string): Line {
    const line: Line = { waiters: [], timer: undefined }
    this.#lines.set(origin, line)
    this.#schedule(origin, line, Date.now())
    return line
  }

  #schedule(origin: string, line: Line, now: number): void {
    const head = line.waiters[0]
    const delay = Math.min(CHECK_EVERY_MS, head === undefined ? CHECK_EVERY_MS : Math.max(0, head.deadline - now))
    line.timer = setTimeout(() => this.#check(origin), delay)
    line.timer.unref()
  }

  #close(origin: string): void {
    const line = this.#lines.get(origin)
    if (!line) return
    clearTimeout(line.timer)
    this.#lines.delete(origin)
  }
}
