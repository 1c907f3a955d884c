// What the admin endpoints behind the dashboard answer: this replica's recent activity, the
// dead-letter topic and its replays (one letter, or many by filter: counted first), callback
// origins and their pauses. (A notification's status is http/notification-status.ts.)
// The HTTP side (routes, token) is in http/server.ts.
import { hostname } from 'node:os'
import { originOfSetting } from '../config.ts'
import type { OriginGate } from '../delivery/origin-gate.ts'
import { AdminRequestError } from '../errors.ts'
import type { Publisher } from '../kafka/publisher.ts'
import { replayedKey, type RetryTier } from '../names.ts'
import type { OriginControls, OriginView } from '../origins/origin-controls.ts'
import type { NotificationStore } from '../store/notification-store.ts'
import type { DeadLetterReader, StoredDeadLetter } from '../replay/dead-letters.ts'
import { planReplay, replay, type ReplayReport } from '../replay/replay.ts'
import type { ActivityLog } from './activity.ts'

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

export interface AdminDeps {
  store: NotificationStore
  publisher: Publisher
  reader: DeadLetterReader
  activity: ActivityLog
  firstTier: RetryTier
  origins: OriginControls
  gate: OriginGate
}

export class Admin {
  readonly #deps: AdminDeps
  #replayingAll = false

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

  /** Replays every notification in the dead-letter topic not replayed yet (poison records stay: replay them one by one). */
  async replayAll(): Promise<ReplayReport & { selected: number }> {
    if (this.#replayingAll) throw new AdminRequestError('busy', 'a replay of all dead letters is already running')
    this.#replayingAll = true
    try {
      const report = { selected: 0, replayed: 0, alreadyReplayed: 0 }
      await this.#deps.reader.scan(async (letters) => {
        const actions = planReplay(letters, { processingIds: new Set(), includePoison: false })
        const done = await replay(actions, this.#replayDeps(), { force: false })
        report.selected += actions.length
        report.replayed += done.replayed
        report.alreadyReplayed += done.alreadyReplayed
      })
      return report
    } finally {
      this.#replayingAll = false
    }
  }

  /** Every origin with a pause, a hold, a limit of its own, parked notifications or (here) a circuit not closed. */
  async origins(now = Date.now()): Promise<{ replica: string; origins: OriginView[] }> {
    const { origins, gate } = this.#deps
    return { replica: hostname(), origins: await origins.list(gate.unhealthy(now), now) }
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
