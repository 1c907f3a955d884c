// All of a notification's state in Redis (contract §3). Two steps, as Svix does: a short
// "in flight" claim taken atomically with set-if-not-exists, then the long "done" marker
// `processed_messages:{id}`; beside them its status with its attempt history inside, and the requests
// recorded for results without a callback_url. Claims and settlements asked for in the same
// turn go to Redis as one script call (lua/*.lua). Every key comes from names.ts.
import { randomBytes } from 'node:crypto'
import type { RedisSettings } from '../config.ts'
import { ErrorCodes, InfrastructureError, NotificationError } from '../errors.ts'
import { MicroBatcher } from '../lib/micro-batcher.ts'
import { isUntrustedCertificate } from '../lib/tls-trust.ts'
import { notificationKeys, requestKey, type NotificationKeys } from '../names.ts'
import type { NotificationKind } from '../notifications/kinds.ts'
import { createScriptedClient, type LuaScript } from './lua-scripts.ts'
import { perSlot } from './per-slot.ts'
import { closeRedisClient, untilReady, type RedisClient } from './redis-client.ts'
import { redisCall } from './redis-errors.ts'
import { MAX_ATTEMPTS_KEPT, followsEarlierAttempts, listedHistory, parseStatus, statusWithHistory, storedStatusJson, type AttemptRecord, type NotificationStatus } from './status-json.ts'

export type { AttemptRecord, NotificationStatus } from './status-json.ts'

/** What the copy claiming knows of its notification's history (its record's): attempts and deferrals made before it was written. */
export type KnownHistory = { readonly attempts: number; readonly deferrals: number }

/** `superseded`: attempted or deferred since this copy was written; a later copy carries it on (lua/claim-notifications.lua). */
export type ClaimResult = { status: 'claimed'; token: string } | { status: 'done' } | { status: 'superseded' } | { status: 'busy'; retryInMs: number }

/** The callback and ids of a ProcessingRequest, kept so that a result without callback_url can be delivered. */
export interface RecordedRequest {
  callback_url: string
  user_id: number
  resume_id: number
  requirements_id: number
}

/** How a notification is settled: done for good, or waiting in a retry tier. */
export interface Settlement {
  readonly kind: NotificationKind
  readonly processingId: number
  readonly done: boolean
  /** The claim to release; undefined when none was taken (given up before an attempt). */
  readonly token: string | undefined
  readonly status: NotificationStatus
  /** The attempt to add to the history; undefined when none was made. */
  readonly attempt: AttemptRecord | undefined
}

/** What delivery (src/pipeline) needs of the store: claims, settlements and recorded requests. */
export interface DeliveryStore {
  /** `known`: the history of the copy claiming (its record's), which a later attempt or deferral supersedes. */
  claim(kind: NotificationKind, processingId: number, ttlMs: number, known: KnownHistory): Promise<ClaimResult>
  /** True when this settlement stands; false when another copy settled the notification first. */
  saveSettlement(settlement: Settlement): Promise<boolean>
  doneStatus(kind: NotificationKind, processingId: number): Promise<NotificationStatus | undefined>
  /** Keeps a given-up notification's dead letter (JSON) until dropLetter: see NotificationKeys.letter. */
  holdLetter(kind: NotificationKind, processingId: number, letter: string): Promise<void>
  heldLetter(kind: NotificationKind, processingId: number): Promise<string | undefined>
  dropLetter(kind: NotificationKind, processingId: number): Promise<void>
  recordRequest(processingId: number, request: RecordedRequest): Promise<void>
  recordedRequest(processingId: number): Promise<RecordedRequest | undefined>
}

interface PendingSettlement {
  readonly settlement: Settlement
  readonly keys: NotificationKeys
}

interface PendingClaim {
  readonly keys: NotificationKeys
  readonly token: string
  readonly ttlMs: number
  readonly known: KnownHistory
}

/** Most notifications claimed or settled by one script call (a few ms of Redis time). */
const MAX_BATCH = 500

interface ScriptedCommands {
  /** numberOfKeys, then the keys and arguments as lua/claim-notifications.lua reads them. */
  claimNotifications(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number[]>
  /** numberOfKeys, then the keys and arguments as lua/settle-notifications.lua reads them. */
  settleNotifications(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number[]>
}
type ScriptedRedis = RedisClient & ScriptedCommands

const SCRIPTS: Record<keyof ScriptedCommands, LuaScript> = {
  claimNotifications: { file: 'claim-notifications' },
  settleNotifications: { file: 'settle-notifications' },
}

export class NotificationStore implements DeliveryStore {
  readonly #redis: ScriptedRedis
  /** In a Redis Cluster one script may only touch keys of one slot: batches are split per slot. */
  readonly #clustered: boolean
  readonly #processedTtlSeconds: number
  /** Claim tokens are this process's id and a count: short, since each is written twice per notification. */
  readonly #instance = randomBytes(6).toString('base64url')
  #claimCount = 0
  // Redis errors are turned into ours once per batch (redisCall), not once per notification.
  readonly #claims = new MicroBatcher<PendingClaim, ClaimResult>((claims) => redisCall(() => this.#claimMany(claims)), { maxBatch: MAX_BATCH })
  readonly #settlements = new MicroBatcher<PendingSettlement, boolean>((settlements) => redisCall(() => this.#settleMany(settlements)), { maxBatch: MAX_BATCH })
  /** The client reports why a connection failed only as an event; connect() just says it closed. */
  #lastConnectionError: (Error & { code?: unknown }) | undefined

  constructor(settings: RedisSettings, processedTtlSeconds: number) {
    this.#processedTtlSeconds = processedTtlSeconds
    this.#clustered = settings.mode === 'cluster'
    this.#redis = createScriptedClient<ScriptedCommands>(settings, SCRIPTS)
    this.#redis.on('error', (error: Error) => (this.#lastConnectionError = error))
  }

  /** Errors are reported through the caller's operations; this only observes connection state. */
  onError(listener: (error: Error) => void): void {
    this.#redis.on('error', listener)
  }

  /**
   * Connects; a refused password, ACL or certificate is final (STORE_ACCESS_REFUSED), anything
   * else may be retried. Once a try failed the client goes on reconnecting by itself, and
   * connect() then only throws "already connecting/connected", even once it is connected: a
   * replica started during a Redis failover sat unready for three minutes on that (the soak).
   * So a try again waits for the connection under way instead.
   */
  async connect(): Promise<void> {
    const { status } = this.#redis
    if (status === 'ready') return
    this.#lastConnectionError = undefined
    try {
      if (status === 'connecting' || status === 'connect' || status === 'reconnecting') await untilReady(this.#redis)
      else await this.#redis.connect()
    } catch (error) {
      const reason: Error & { code?: unknown } = this.#lastConnectionError ?? (error as Error)
      const { message, code } = reason
      if (/^(WRONGPASS|NOAUTH|NOPERM)/.test(message)) {
        throw new NotificationError(ErrorCodes.STORE_ACCESS_REFUSED, `Redis refused the credentials: ${message} (check the user and password in REDIS_URL)`, false, { cause: reason })
      }
      if (isUntrustedCertificate(code)) {
        throw new NotificationError(ErrorCodes.STORE_ACCESS_REFUSED, `Redis TLS: the server's certificate is not trusted (${code}: ${message}); set REDIS_TLS_CA_FILE to the CA that signed it`, false, { cause: reason })
      }
      throw new InfrastructureError(ErrorCodes.STORE_UNAVAILABLE, `Redis: ${message}`, { cause: reason })
    }
  }

  get isReady(): boolean {
    return this.#redis.status === 'ready'
  }

  /** Atomically: already done, claimed by someone else (for how long), or now ours. */
  claim(kind: NotificationKind, processingId: number, ttlMs: number, known: KnownHistory): Promise<ClaimResult> {
    const keys = notificationKeys(kind, processingId)
    return this.#claims.add({ keys, token: `${this.#instance}:${(++this.#claimCount).toString(36)}`, ttlMs: Math.ceil(ttlMs), known })
  }

  /** Done (never sent again for STORAGE_TIME_PROCESSED_MESSAGES) or waiting for a retry; the claim is given back either way. */
  saveSettlement(settlement: Settlement): Promise<boolean> {
    return this.#settlements.add({ settlement, keys: notificationKeys(settlement.kind, settlement.processingId) })
  }

  async holdLetter(kind: NotificationKind, processingId: number, letter: string): Promise<void> {
    await redisCall(() => this.#redis.set(notificationKeys(kind, processingId).letter, letter, 'EX', this.#processedTtlSeconds))
  }

  async heldLetter(kind: NotificationKind, processingId: number): Promise<string | undefined> {
    return (await redisCall(() => this.#redis.get(notificationKeys(kind, processingId).letter))) ?? undefined
  }

  async dropLetter(kind: NotificationKind, processingId: number): Promise<void> {
    await redisCall(() => this.#redis.del(notificationKeys(kind, processingId).letter))
  }

  /**
   * Status and attempt history of a notification; undefined when none is known. The history is
   * kept inside the status; the attempts list is what versions before 2026-12-05 kept (read
   * until it expires: a notification attempted across an upgrade has entries in both).
   */
  async status(kind: NotificationKind, processingId: number): Promise<{ status: NotificationStatus | { status: 'pending' }; history: AttemptRecord[] } | undefined> {
    const keys = notificationKeys(kind, processingId)
    const [stored, listed, claimed] = await redisCall(() =>
      Promise.all([this.#redis.get(keys.status), this.#redis.lrange(keys.attempts, 0, -1), this.#redis.exists(keys.claim)]),
    )
    if (stored !== null) return statusWithHistory(stored, listed)
    if (claimed === 1) return { status: { status: 'pending' }, history: listedHistory(listed) }
    return undefined
  }

  /**
   * How a notification that is done ended (delivered or failed, attempts, when), as settled;
   * undefined when that is no longer kept or the key is not ours (another writer's type).
   */
  async doneStatus(kind: NotificationKind, processingId: number): Promise<NotificationStatus | undefined> {
    const key = notificationKeys(kind, processingId).status
    try {
      return parseStatus(await redisCall(() => this.#redis.get(key)))
    } catch (error) {
      if (error instanceof NotificationError && error.code === ErrorCodes.STORE_REJECTED) return undefined
      throw error
    }
  }

  /** Forgets that a notification was sent or given up, so it may be sent again (replay). */
  async forget(kind: NotificationKind, processingId: number): Promise<void> {
    await redisCall(() => this.#redis.del(notificationKeys(kind, processingId).done))
  }

  /** Records that a dead letter was replayed; false if it already was. */
  async markReplayed(key: string): Promise<boolean> {
    return (await redisCall(() => this.#redis.set(key, '_', 'EX', this.#processedTtlSeconds, 'NX'))) === 'OK'
  }

  /** Which of these dead letters were replayed already (markers from markReplayed). */
  async wereReplayed(keys: readonly string[]): Promise<boolean[]> {
    if (keys.length === 0) return []
    // One GET per key (pipelined): in a cluster the markers live in many slots.
    const values = await redisCall(() => Promise.all(keys.map((key) => this.#redis.get(key))))
    return values.map((value) => value !== null)
  }

  async recordRequest(processingId: number, request: RecordedRequest): Promise<void> {
    await redisCall(() => this.#redis.set(requestKey(processingId), JSON.stringify(request), 'EX', this.#processedTtlSeconds))
  }

  async recordedRequest(processingId: number): Promise<RecordedRequest | undefined> {
    const text = await redisCall(() => this.#redis.get(requestKey(processingId)))
    return text === null ? undefined : (JSON.parse(text) as RecordedRequest)
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.#redis.ping()) === 'PONG'
    } catch {
      return false
    }
  }

  /** QUIT (pending replies first), bounded in time; then no reconnection, whatever the topology's state. */
  close(): Promise<void> {
    return closeRedisClient(this.#redis)
  }

  #claimMany(claims: readonly PendingClaim[]): Promise<ClaimResult[]> {
    return perSlot(this.#clustered, claims, (claim) => claim.keys.done, (group) => this.#claimScript(group))
  }

  #settleMany(settlements: readonly PendingSettlement[]): Promise<boolean[]> {
    return perSlot(this.#clustered, settlements, (pending) => pending.keys.done, (group) => this.#settleScript(group))
  }

  async #claimScript(claims: readonly PendingClaim[]): Promise<ClaimResult[]> {
    const keysAndArgs: Array<string | number> = []
    for (const { keys } of claims) keysAndArgs.push(keys.done, keys.claim, keys.status)
    for (const { token, ttlMs, known } of claims) keysAndArgs.push(token, ttlMs, known.attempts, known.deferrals)
    const answers = await this.#redis.claimNotifications(3 * claims.length, ...keysAndArgs)
    return claims.map(({ token }, i): ClaimResult => {
      const status = answers[2 * i]
      const pttl = answers[2 * i + 1] ?? 0
      if (status === 0) return { status: 'done' }
      if (status === 1) return { status: 'claimed', token }
      if (status === 3) return { status: 'superseded' }
      return { status: 'busy', retryInMs: pttl > 0 ? pttl : 100 }
    })
  }

  async #settleScript(settlements: readonly PendingSettlement[]): Promise<boolean[]> {
    const keysAndArgs: Array<string | number> = []
    for (const { keys } of settlements) keysAndArgs.push(keys.done, keys.claim, keys.status)
    keysAndArgs.push(this.#processedTtlSeconds, MAX_ATTEMPTS_KEPT)
    for (const { settlement: { done, token, status, attempt } } of settlements) {
      keysAndArgs.push(done ? '1' : '0', token ?? '', storedStatusJson(status, attempt), followsEarlierAttempts(status, attempt) ? '1' : '0')
    }
    const stands = await this.#redis.settleNotifications(3 * settlements.length, ...keysAndArgs)
    return stands.map((stood) => stood === 1)
  }
}
