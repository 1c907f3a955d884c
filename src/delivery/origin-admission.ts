// The origin gate with a short queue in front of it: a notification whose callback origin is
// at its concurrency limit but answering waits here, first come first served, for a slot
// (at most the gate's `maxWaitMs`, then it is refused as saturated and deferred to a retry
// tier without an attempt). Each answer or given-back ticket hands its slot to the next in
// line. The gate decides everything; this only waits.
import { Interrupted } from '../errors.ts'
import type { OriginGate, Refusal, Ticket } from './origin-gate.ts'

export type Admission = { ok: true; ticket: Ticket } | Refusal

interface Waiter {
  readonly settle: (admission: Admission) => void
}

export class OriginAdmission {
  readonly #gate: OriginGate
  /** Per origin, the notifications waiting for a slot, oldest first. */
  readonly #queues = new Map<string, Waiter[]>()

  constructor(gate: OriginGate) {
    this.#gate = gate
  }

  /** A ticket, at once or once a slot is free, or a refusal; rejects with Interrupted when `signal` aborts first. */
  admit(origin: string, signal: AbortSignal): Admission | Promise<Admission> {
    const queue = this.#queues.get(origin)
    const decision = this.#gate.acquire(origin, Date.now(), queue?.length ?? 0)
    if (decision.ok || decision.reason !== 'wait') return decision
    if (signal.aborted) return Promise.reject(new Interrupted())
    return new Promise<Admission>((resolve, reject) => {
      const waiters = queue ?? []
      if (!queue) this.#queues.set(origin, waiters)
      const leave = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        const at = waiters.indexOf(waiter)
        if (at >= 0) waiters.splice(at, 1)
        if (waiters.length === 0 && this.#queues.get(origin) === waiters) this.#queues.delete(origin)
      }
      const waiter: Waiter = {
        settle: (admission) => {
          leave()
          resolve(admission)
        },
      }
      const onAbort = () => {
        leave()
        reject(new Interrupted())
      }
      const timer = setTimeout(() => waiter.settle({ ok: false, reason: 'saturated', retryAt: Date.now() + decision.waitMs }), decision.waitMs)
      signal.addEventListener('abort', onAbort, { once: true })
      waiters.push(waiter)
    })
  }

  /** After an attempt: see OriginGate.release. Its slot goes to the next in line. */
  release(ticket: Ticket, healthy: boolean, durationMs: number): void {
    this.#gate.release(ticket, healthy, Date.now(), durationMs)
    this.#next(ticket.origin)
  }

  /** A ticket given back without an attempt: see OriginGate.abandon. */
  abandon(ticket: Ticket): void {
    this.#gate.abandon(ticket)
    this.#next(ticket.origin)
  }

  /** Hands free slots to the oldest waiters; a refusal (circuit opened, origin gone quiet) reaches them too. */
  #next(origin: string): void {
    const waiters = this.#queues.get(origin)
    if (!waiters) return
    const now = Date.now()
    for (let waiter = waiters[0]; waiter !== undefined; waiter = waiters[0]) {
      const decision = this.#gate.acquire(origin, now)
      if (!decision.ok && decision.reason === 'wait') return
      waiter.settle(decision)
    }
  }
}
