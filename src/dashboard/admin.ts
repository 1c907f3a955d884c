// What the admin endpoints behind the dashboard answer: this replica's recent activity, the
// dead-letter topic and its replays (one letter, or many by filter: counted first), callback
// origins and their pauses, the destinations file (secrets redacted). (A notification's
// status is http/notification-status.ts.)
// The HTTP side (routes, token) is in http/server.ts.
import { hostname } from 'node:os'
import { originOfSetting } from '../config.ts'
import type { OriginGate } from '../delivery/origin-gate.ts'
import type { DestinationsView, TokenView } from '../destinations/policy.ts'
import { destinationsAnswer, type DestinationsAdminAnswer } from '../destinations/redact.ts'
import { AdminRequestError } from '../errors.ts'
import type { Publisher } from '../kafka/publisher.ts'
import { replayedKey, type RetryTier } from '../names.ts'
import type { OriginControls, OriginView } from '../origins/origin-controls.ts'
import type { NotificationStore } from '../store/notification-store.ts'
import type { DeadLetterReader, StoredDeadLetter } from '../replay/dead-letters.ts'
import { countSelection, replaySelection } from '../replay/bulk.ts'
import { filterJson } from '../replay/filter.ts'
import { planReplay, replay, type ReplayReport } from '../replay/replay.ts'
import type { ActivityLog } from './activity.ts'
import { replayRequest } from './replay-request.ts'

export interface DeadLetterView {
  partition: number
  offset: string
  stored_at: string | null
  processing_id: number | null
  code: string | null
  reason: string
  attempts: number
  last_status_code: number | null
  callback_url: string | null
  /** notification: sent again through the first retry tier; poison: produced again to its source topic; none: cannot be replayed. */
  replay: 'notification' | 'poison' | 'none'
  replayed: boolean
}

export type ManyReplayed = ReplayReport & { selected: number }

export interface ManyCounted {
  dry_run: true
  selected: number
  notifications: number
  poison: number
  alreadyReplayed: number
  filter: ReturnType<typeof filterJson>
}

export interface AdminDeps {
  store: NotificationStore
  publisher: Publisher
  reader: DeadLetterReader
  activity: ActivityLog
  firstTier: RetryTier
  origins: OriginControls
  gate: OriginGate
  /** CALLBACK_DESTINATIONS_FILE as in force, and the OAuth2 tokens cached for it. */
  destinations: DestinationsView
  tokens: TokenView
}

export class Admin {
  readonly #deps: AdminDeps
  #replayingMany = false

  constructor(deps: AdminDeps) {
    this.#deps = deps
  }

  activity(now = Date.now()): unknown {
    const { activity } = this.#deps
    return {
      replica: hostname(),
      pid: process.pid,
      now,
      totals: activity.totals,
      series: activity.series(now),
      recent: activity.recent(50).map((event) => ({
        at: new Date(event.at).toISOString(),
        processing_id: event.processingId,
        kind: event.kind,
        result: event.result,
        attempts: event.attempts,
        status_code: event.statusCode,
        error: event.error,
        duration_ms: Math.round(event.durationMs),
        callback_origin: event.callbackOrigin,
      })),
    }
  }

  async deadLetters(limit: number): Promise<{ topic: string; total: number; letters: DeadLetterView[] }> {
    const { reader, store } = this.#deps
    const [total, stored] = await Promise.all([reader.count(), reader.latest(limit)])
    const replayed = await store.wereReplayed(stored.map((letter) => replayedKey(reader.topic, letter.partition, letter.offset)))
    return { topic: reader.topic, total, letters: stored.map((letter, i) => viewOf(letter, replayed[i] ?? false)) }
  }

  /** Replays one dead letter (a poison record too: a person chose it); once, unless forced. */
  async replayOne(partition: number, offset: bigint, force: boolean): Promise<ReplayReport> {
    const stored = await this.#deps.reader.at(partition, offset)
    if (!stored) throw new AdminRequestError('not-found', `no dead letter at partition ${partition} offset ${offset}`)
    const actions = planReplay([stored], { processingIds: new Set(), includePoison: true })
    if (actions.length === 0) throw new AdminRequestError('invalid', `the record at partition ${partition} offset ${offset} cannot be replayed`)
    return replay(actions, this.#replayDeps(), { force })
  }

  /**
   * Replays the dead letters a request selects (replay-request.ts: every notification when
   * there is no body; poison records only with include_poison), each once unless forced; one
   * such replay at a time (409). With dry_run, only counts them: the answer's filter (its
   * until set to now when open) posted back replays exactly what was counted.
   */
  async replayMany(body: unknown, now = Date.now()): Promise<ManyReplayed | ManyCounted> {
    const { reader, store } = this.#deps
    const { selection, force, dryRun } = replayRequest(body, now)
    if (dryRun) {
      // Counted with the filter it answers: posted back, it replays what was counted.
      const filter = { ...selection.filter, until: selection.filter.until ?? now }
      const count = await countSelection(reader, { ...selection, filter }, { store })
      return { dry_run: true, selected: count.selected, notifications: count.notifications, poison: count.poison, alreadyReplayed: count.alreadyReplayed ?? 0, filter: filterJson(filter) }
    }
    if (this.#replayingMany) throw new AdminRequestError('busy', 'a replay of many dead letters is already running')
    this.#replayingMany = true
    try {
      return await replaySelection(reader, this.#replayDeps(), selection, { force })
    } finally {
      this.#replayingMany = false
    }
  }

  /** Every origin with a pause, a hold, a limit of its own, parked notifications or (here) a circuit not closed. */
  async origins(now = Date.now()): Promise<{ replica: string; origins: OriginView[] }> {
    const { origins, gate } = this.#deps
    return { replica: hostname(), origins: await origins.list(gate.unhealthy(now), now) }
  }

  /** The destinations in force, every secret redacted (destinations/redact.ts). */
  destinations(): DestinationsAdminAnswer {
    return destinationsAnswer(this.#deps.destinations, this.#deps.tokens)
  }

  /** Pauses an origin for the whole group: its notifications wait, parked, until it is resumed. */
  async pauseOrigin(body: unknown, now = Date.now()): Promise<OriginView> {
    const { origin, reason } = originRequest(body)
    await this.#deps.origins.pause(origin, reason ?? 'paused by an operator', now)
    return this.#view(origin, now)
  }

  /** Resumes an origin: its parked notifications go back to the first retry tier, oldest first. */
  async resumeOrigin(body: unknown, now = Date.now()): Promise<OriginView & { was_paused: boolean }> {
    const { origin } = originRequest(body)
    const wasPaused = await this.#deps.origins.resume(origin)
    return { ...(await this.#view(origin, now)), was_paused: wasPaused }
  }

  async #view(origin: string, now: number): Promise<OriginView> {
    const { origins } = await this.origins(now)
    const view = origins.find((entry) => entry.origin === origin)
    return view ?? { origin, state: 'healthy', pause: null, circuit: 'closed', held_until: null, rate_limit_per_second: this.#deps.origins.rateLimitFor(origin) ?? null, rate_backlog_ms: 0, parked: 0 }
  }

  #replayDeps() {
    const { store, publisher, firstTier, reader } = this.#deps
    return { store, publisher, firstTier, deadLetterTopic: reader.topic }
  }
}

/** `{"origin": "https://…", "reason"?: "…"}`, the origin written as URL.origin writes it. */
function originRequest(body: unknown): { origin: string; reason: string | undefined } {
  const { origin, reason } = (typeof body === 'object' && body !== null ? body : {}) as { origin?: unknown; reason?: unknown }
  const normalised = typeof origin === 'string' ? originOfSetting(origin) : undefined
  if (normalised === undefined) throw new AdminRequestError('invalid', 'body must be {"origin": "https://host[:port]"} (an http(s) origin, no path)')
  if (reason !== undefined && (typeof reason !== 'string' || reason.length > 500)) throw new AdminRequestError('invalid', '"reason" must be a string of at most 500 characters')
  return { origin: normalised, reason }
}

function replayKind(stored: StoredDeadLetter): DeadLetterView['replay'] {
  const planned = planReplay([stored], { processingIds: new Set(), includePoison: true })[0]
  return planned?.kind ?? 'none'
}

function viewOf(stored: StoredDeadLetter, replayed: boolean): DeadLetterView {
  const { letter } = stored
  return {
    partition: stored.partition,
    offset: stored.offset,
    stored_at: stored.timestamp === undefined ? null : new Date(stored.timestamp).toISOString(),
    processing_id: letter?.processing_id ?? null,
    code: letter?.code ?? null,
    reason: letter?.reason ?? 'not a dead letter written by this service',
    attempts: letter?.attempts ?? 0,
    last_status_code: letter?.last_status_code ?? null,
    callback_url: letter?.notification?.callback_url ?? null,
    replay: replayKind(stored),
    replayed,
  }
}
