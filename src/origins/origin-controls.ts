// What every replica must agree on about a callback origin, kept in Redis (store/origin-store.ts)
// and mirrored here so that the hot path asks nothing of Redis for an origin with no limit:
//   paused   (by an operator, or automatically when its circuit stayed open too long):
//            its notifications are parked in Redis, oldest first, and go back to the first
//            retry tier in that order once it is resumed; no attempt is used meanwhile.
//   held     (it answered with Retry-After where the answer table says the answer holds the
//            origin, delivery/answers.ts): nobody calls it before then.
//   limited  (CALLBACK_RATE_LIMITS, or its destination's rate_limit): each send takes the
//            origin's next slot (GCRA in Redis).
// The mirror is refreshed whenever a replica announces a change (pub/sub) and every
// REFRESH_MS in case an announcement was missed.
import type { RateLimits } from '../config.ts'
import type { DestinationLookup } from '../destinations/policy.ts'
import { describeError } from '../errors.ts'
import type { Publisher } from '../kafka/publisher.ts'
import type { Logger } from '../log.ts'
import type { RetryTier } from '../names.ts'
import type { OriginPausedEvent } from '../notifications/records.ts'
import type { CircuitState } from '../delivery/origin-gate.ts'
import { rateLimitFor } from '../delivery/rate-limits.ts'
import type { OriginPause, OriginStore, OriginsSnapshot } from '../store/origin-store.ts'

/** What the shared controls say of an origin now: open to sends, paused, or held (Retry-After). */
export type OriginStanding = { kind: 'open' } | { kind: 'paused'; pause: OriginPause } | { kind: 'held'; until: number }

export type OriginViewState = 'healthy' | 'circuit-open' | 'rate-limited' | 'paused'

/** One origin as GET /admin/origins shows it. */
export interface OriginView {
  origin: string
  state: OriginViewState
  pause: OriginPause | null
  /** This replica's circuit for the origin. */
  circuit: CircuitState
  /** Retry-After: not called before this time (ISO), null when not held. */
  held_until: string | null
  rate_limit_per_second: number | null
  /** How far ahead its next free send slot is, ms (notifications waiting for the limit). */
  rate_backlog_ms: number
  /** Notifications parked while paused. */
  parked: number
}

export interface OriginControlsOptions {
  readonly store: OriginStore
  readonly publisher: Publisher
  readonly rateLimits: RateLimits
  /** A destination's own rate_limit wins over rateLimits for its origins. */
  readonly destinations?: DestinationLookup
  /** A circuit open this long pauses its origin; undefined = never. */
  readonly autoPauseAfterMs: number | undefined
  /** Where parked notifications go once their origin is resumed. */
  readonly resumeTier: RetryTier
  readonly logger: Logger
  /** Who holds a drain lock (this replica). */
  readonly instance: string
  /** Called on every replica when an origin is resumed (its circuit starts afresh). */
  readonly onResumed?: (origin: string) => void
}

const REFRESH_MS = 2000
const DRAIN_EVERY_MS = 2000
const DRAIN_BATCH = 200
const DRAIN_LOCK_MS = 60_000
/** A Retry-After longer than this holds the origin this long; its notifications wait in their tiers after. */
export const MAX_HOLD_MS = 3_600_000

export class OriginControls {
  readonly #options: OriginControlsOptions
  #snapshot: OriginsSnapshot = { pauses: new Map(), holds: new Map() }
  #timer: NodeJS.Timeout | undefined
  #drainTimer: NodeJS.Timeout | undefined
  #draining: Promise<void> | undefined
  #refreshing: Promise<void> | undefined
  #closed = false
  /** When this replica learnt that an origin was resumed: its automatic-pause clock starts again then. */
  readonly #resumedAt = new Map<string, number>()

  constructor(options: OriginControlsOptions) {
    this.#options = options
  }

  /** Loads the shared state and follows its changes. */
  async start(): Promise<void> {
    await this.#options.store.syncClock()
    await this.#options.store.subscribe(() => void this.refresh())
    await this.refresh()
    // Once, even when a start that took too long (app.ts) is followed by another.
    clearInterval(this.#timer)
    clearInterval(this.#drainTimer)
    this.#timer = setInterval(() => void this.refresh(), REFRESH_MS)
    this.#drainTimer = setInterval(() => void this.drainResumed(), DRAIN_EVERY_MS)
  }

  async close(): Promise<void> {
    this.#closed = true
    clearInterval(this.#timer)
    clearInterval(this.#drainTimer)
    await this.#draining
    await this.#options.store.close()
  }

  /** Reads the shared state again; a failure keeps the last one (logged). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#options.store
      .snapshot(Date.now())
      .then((snapshot) => {
        for (const origin of this.#snapshot.pauses.keys()) if (!snapshot.pauses.has(origin)) this.#resumed(origin)
        this.#snapshot = snapshot
      })
      .catch((error: unknown) => this.#options.logger.warn({ error: describeError(error) }, 'reading origin pauses and holds failed: keeping the last ones'))
      .finally(() => (this.#refreshing = undefined))
    return this.#refreshing
  }

  standing(origin: string, now: number): OriginStanding {
    const pause = this.#snapshot.pauses.get(origin)
    if (pause) return { kind: 'paused', pause }
    const until = this.#snapshot.holds.get(origin)
    if (until !== undefined && until > now) return { kind: 'held', until }
    return { kind: 'open' }
  }

  /** Its destination's rate_limit (CALLBACK_DESTINATIONS_FILE), else CALLBACK_RATE_LIMITS'. */
  rateLimitFor(origin: string): number | undefined {
    return this.#options.destinations?.policyFor(origin)?.rateLimitPerSecond ?? rateLimitFor(this.#options.rateLimits, origin)
  }

  /** Takes the origin's next send slot; when it is (epoch ms). */
  reserve(origin: string, perSecond: number): Promise<number> {
    return this.#options.store.reserve(origin, perSecond)
  }

  /** The origin asked to be left alone (an answer that holds it, delivery/answers.ts): every replica leaves it alone until then. */
  async hold(origin: string, retryAfterMs: number, now: number): Promise<void> {
    const until = now + Math.min(retryAfterMs, MAX_HOLD_MS)
    const holds = new Map(this.#snapshot.holds)
    holds.set(origin, Math.max(until, holds.get(origin) ?? 0))
    this.#snapshot = { ...this.#snapshot, holds }
    await this.#options.store.hold(origin, until, now)
  }

  async pause(origin: string, reason: string, now: number): Promise<void> {
    const pause: OriginPause = { by: 'operator', since: new Date(now).toISOString(), reason }
    await this.#options.store.pause(origin, pause, false)
    this.#setPause(origin, pause)
    this.#options.logger.warn({ origin, reason }, 'callback origin paused by an operator')
  }

  /** True when it was paused; its parked notifications then go back to the first retry tier, oldest first. */
  async resume(origin: string): Promise<boolean> {
    const wasPaused = await this.#options.store.resume(origin)
    this.#setPause(origin, undefined)
    this.#options.logger.warn({ origin }, 'callback origin resumed')
    void this.drainResumed()
    return wasPaused
  }

  /** Whether a circuit open since `openSince` has been open too long: then pauses the origin (once for the group) and tells other services. */
  async pauseIfOpenTooLong(origin: string, openSince: number, lastError: string, now: number): Promise<boolean> {
    const { autoPauseAfterMs, store, publisher, logger } = this.#options
    if (autoPauseAfterMs === undefined || now - Math.max(openSince, this.#resumedAt.get(origin) ?? 0) < autoPauseAfterMs) return false
    const pause: OriginPause = {
      by: 'automatic',
      since: new Date(now).toISOString(),
      reason: `circuit open for more than ${Math.round(autoPauseAfterMs / 1000)} s`,
      circuit_open_since: new Date(openSince).toISOString(),
      last_error: lastError,
    }
    const pausedNow = await store.pause(origin, pause, true)
    if (pausedNow) {
      this.#setPause(origin, pause)
      const event: OriginPausedEvent = { event: 'origin_paused', origin, paused_at: pause.since, circuit_open_since: pause.circuit_open_since ?? pause.since, last_error: lastError }
      await publisher.originEvent(event)
      logger.warn({ origin, circuitOpenSince: pause.circuit_open_since, lastError }, 'callback origin paused automatically: its circuit stayed open too long')
    } else {
      await this.refresh()
    }
    return true
  }

  /** Keeps a notification (its retry record, as JSON) until its origin is resumed. */
  park(origin: string, retryRecord: string): Promise<void> {
    return this.#options.store.park(origin, retryRecord)
  }

  /** Moves the parked notifications of every origin no longer paused back to the first retry tier. */
  drainResumed(): Promise<void> {
    this.#draining ??= this.#drainAll().finally(() => (this.#draining = undefined))
    return this.#draining
  }

  /** The origins paused now, as last read from the group's shared state (for the metrics). */
  paused(): Array<{ origin: string; by: string }> {
    return [...this.#snapshot.pauses].map(([origin, pause]) => ({ origin, by: pause.by }))
  }

  /** Every origin with shared state, a limit of its own or a circuit that is not closed here. */
  async list(circuits: ReadonlyArray<{ origin: string; state: CircuitState }>, now: number): Promise<OriginView[]> {
    const { store, rateLimits } = this.#options
    await this.refresh()
    const parkedOrigins = await store.parkedOrigins()
    const origins = [...new Set([...this.#snapshot.pauses.keys(), ...this.#snapshot.holds.keys(), ...rateLimits.byOrigin.keys(), ...parkedOrigins, ...circuits.map((c) => c.origin)])].sort()
    const [parked, backlogs] = await Promise.all([store.parkedCounts(origins), store.rateBacklogMs(origins, now)])
    const circuitOf = new Map(circuits.map((c) => [c.origin, c.state]))
    return origins.map((origin, i): OriginView => {
      const pause = this.#snapshot.pauses.get(origin) ?? null
      const until = this.#snapshot.holds.get(origin)
      const heldUntil = until !== undefined && until > now ? until : undefined
      const circuit = circuitOf.get(origin) ?? 'closed'
      const backlog = backlogs[i] ?? 0
      const state: OriginViewState = pause ? 'paused' : circuit !== 'closed' ? 'circuit-open' : heldUntil !== undefined || backlog > 0 ? 'rate-limited' : 'healthy'
      return {
        origin,
        state,
        pause,
        circuit,
        held_until: heldUntil === undefined ? null : new Date(heldUntil).toISOString(),
        rate_limit_per_second: this.rateLimitFor(origin) ?? null,
        rate_backlog_ms: backlog,
        parked: parked[i] ?? 0,
      }
    })
  }

  #setPause(origin: string, pause: OriginPause | undefined): void {
    const pauses = new Map(this.#snapshot.pauses)
    if (pause) pauses.set(origin, pause)
    else if (pauses.delete(origin)) this.#resumed(origin)
    this.#snapshot = { ...this.#snapshot, pauses }
  }

  #resumed(origin: string): void {
    this.#resumedAt.set(origin, Date.now())
    this.#options.onResumed?.(origin)
  }

  async #drainAll(): Promise<void> {
    const { store, logger } = this.#options
    try {
      for (const origin of await store.parkedOrigins()) {
        if (this.#closed) return
        if (this.#snapshot.pauses.has(origin)) continue
        if (!(await store.lockDrain(origin, this.#options.instance, DRAIN_LOCK_MS))) continue
        try {
          await this.#drain(origin)
        } finally {
          await store.unlockDrain(origin, this.#options.instance)
        }
      }
    } catch (error) {
      logger.warn({ error: describeError(error) }, 'moving parked notifications back failed: will try again')
    }
  }

  /** Oldest first, a batch at a time: each batch is in its tier before it leaves Redis (a crash between sends it twice; the claim skips the second). */
  async #drain(origin: string): Promise<void> {
    const { store, publisher, resumeTier, logger } = this.#options
    let moved = 0
    for (;;) {
      if (this.#closed || this.#snapshot.pauses.has(origin)) break
      const batch = await store.peekParked(origin, DRAIN_BATCH)
      if (batch.length === 0) break
      // Keyed by the origin: one partition, so the tier takes them up in the order they arrived.
      await Promise.all(batch.map((record) => publisher.republish(resumeTier.topic, origin, record)))
      moved += batch.length
      if ((await store.dropParked(origin, batch.length)) === 0) break
    }
    if (moved > 0) logger.info({ origin, moved }, 'parked notifications of a resumed origin sent back to the first retry tier')
  }
}

