// What was already sent, and who is sending what, kept in Redis (contract §3).
// Two steps, as Svix does: a short "in flight" claim taken atomically with
// set-if-not-exists, then the long "done" marker `processed_messages:{id}`.
// Every command goes through here; every key comes from names.ts.
import { randomUUID } from 'node:crypto'
import { hostname } from 'node:os'
import { Redis } from 'ioredis'
import { ErrorCodes, InfrastructureError, NotificationError } from '../errors.ts'
import { redisKeys } from '../names.ts'
import { NotificationKinds, type NotificationKind } from '../notifications/payload.ts'
import { MicroBatcher } from './micro-batcher.ts'

export type ClaimResult = { status: 'claimed'; token: string } | { status: 'done' } | { status: 'busy'; retryInMs: number }

/** The callback and ids of a ProcessingRequest, kept so that a result without callback_url can be delivered. */
export interface RecordedRequest {
  callback_url: string
  user_id: number
  resume_id: number
  requirements_id: number
}

type NotificationKeys = ReturnType<typeof keysFor>
interface PendingClaim {
  keys: NotificationKeys
  token: string
  ttlMs: number
}
interface PendingFinish {
  keys: NotificationKeys
  token: string
  statusJson: string
  attemptJson: string
}

/** Most notifications claimed or finished by one script call (a few ms of Redis time). */
const MAX_BATCH = 500

/** Attempts kept in a notification's history. */
const MAX_ATTEMPTS_KEPT = 20

// Claims for many notifications at once. Per notification i (from 0): KEYS[2i+1] done
// marker, KEYS[2i+2] claim; ARGV[2i+1] token, ARGV[2i+2] claim ttl (ms).
// Answers two numbers each: 0 already done, 1 claimed, 2 busy; then the claim's PTTL when busy.
const CLAIM_MANY_SCRIPT = `
local answers = {}
for i = 0, #KEYS / 2 - 1 do
  local done, claim = KEYS[2 * i + 1], KEYS[2 * i + 2]
  if redis.call('EXISTS', done) == 1 then
    answers[2 * i + 1], answers[2 * i + 2] = 0, 0
  elseif redis.call('SET', claim, ARGV[2 * i + 1], 'NX', 'PX', ARGV[2 * i + 2]) then
    answers[2 * i + 1], answers[2 * i + 2] = 1, 0
  else
    answers[2 * i + 1], answers[2 * i + 2] = 2, redis.call('PTTL', claim)
  end
end
return answers
`
// Scripts serve many notifications at once, so no key of one may fail the script for all:
// commands that can meet a key of another type (a claim or history written by something
// else) go through redis.pcall, and such a key only loses its own bookkeeping. SET, EXISTS,
// PTTL and EXPIRE work on keys of any type.

/** Lua lines that set the status document and append the attempt to the history, both expiring after `ttl` s. */
function recordStatusLua(keys: { status: string; attempts: string }, args: { ttl: string; status: string; attempt: string }): string {
  return `
redis.call('SET', ${keys.status}, ${args.status}, 'EX', ${args.ttl})
local kept = redis.pcall('RPUSH', ${keys.attempts}, ${args.attempt})
if type(kept) == 'number' and kept > ${MAX_ATTEMPTS_KEPT} then redis.call('LTRIM', ${keys.attempts}, -${MAX_ATTEMPTS_KEPT}, -1) end
redis.call('EXPIRE', ${keys.attempts}, ${args.ttl})`
}
/** Lua line that deletes a claim if `token` holds it. */
function releaseLua(claim: string, token: string): string {
  return `if redis.pcall('GET', ${claim}) == ${token} then redis.call('DEL', ${claim}) end`
}

// Delivered or given up, for many notifications at once: done marker, claim released,
// status and attempt history kept. ARGV[1]: ttl (s). Per notification i (from 0):
// KEYS[4i+1..4i+4] done marker, claim, status, attempts; ARGV[3i+2..3i+4] token, status JSON, attempt JSON.
const FINISH_MANY_SCRIPT = `
for i = 0, #KEYS / 4 - 1 do
  local k, a = 4 * i, 3 * i + 1
  redis.call('SET', KEYS[k + 1], '_', 'EX', ARGV[1])
  ${releaseLua('KEYS[k + 2]', 'ARGV[a + 1]')}
  ${recordStatusLua({ status: 'KEYS[k + 3]', attempts: 'KEYS[k + 4]' }, { ttl: 'ARGV[1]', status: 'ARGV[a + 2]', attempt: 'ARGV[a + 3]' })}
end
return #KEYS / 4
`
// Handed to a retry tier: claim released, status and attempt history kept.
// KEYS: claim, status, attempts. ARGV: token, ttl (s), status JSON, attempt JSON.
const RESCHEDULE_SCRIPT = `
${releaseLua('KEYS[1]', 'ARGV[1]')}
${recordStatusLua({ status: 'KEYS[2]', attempts: 'KEYS[3]' }, { ttl: 'ARGV[2]', status: 'ARGV[3]', attempt: 'ARGV[4]' })}
return 1
`
// KEYS: claim. ARGV: token.
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

interface ScriptedRedis extends Redis {
  /** numberOfKeys, then the keys and the arguments as CLAIM_MANY_SCRIPT reads them. */
  claimNotifications(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number[]>
  /** numberOfKeys, then the keys and the arguments as FINISH_MANY_SCRIPT reads them. */
  finishNotifications(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number>
  rescheduleNotification(claim: string, status: string, attempts: string, token: string, ttlSeconds: number, statusJson: string, attemptJson: string): Promise<number>
  releaseClaim(claim: string, token: string): Promise<number>
}

/** What GET /notifications/{id} shows: kept as long as the done marker. */
export interface NotificationStatus {
  status: 'delivered' | 'retrying' | 'failed'
  attempts: number
  last_status_code: number | null
  last_error: string | null
  next_attempt_at: string | null
  updated_at: string
}

export interface AttemptRecord {
  at: string
  status_code: number | null
  error: string | null
  duration_ms: number
}

export class DedupStore {
  readonly #redis: ScriptedRedis
  readonly #processedTtlSeconds: number
  readonly #instance = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  #claimCount = 0
  readonly #claims = new MicroBatcher<PendingClaim, ClaimResult>((claims) => this.#claimMany(claims), MAX_BATCH)
  readonly #finishes = new MicroBatcher<PendingFinish, void>((finishes) => this.#finishMany(finishes), MAX_BATCH)

  constructor(redisUrl: string, processedTtlSeconds: number) {
    this.#processedTtlSeconds = processedTtlSeconds
    const redis = new Redis(redisUrl, {
      lazyConnect: true,
      enableAutoPipelining: true,
      maxRetriesPerRequest: 2,
      connectTimeout: 5000,
      retryStrategy: (times) => Math.min(times * 200, 2000),
    })
    redis.defineCommand('claimNotifications', { lua: CLAIM_MANY_SCRIPT })
    redis.defineCommand('finishNotifications', { lua: FINISH_MANY_SCRIPT })
    redis.defineCommand('rescheduleNotification', { numberOfKeys: 3, lua: RESCHEDULE_SCRIPT })
    redis.defineCommand('releaseClaim', { numberOfKeys: 1, lua: RELEASE_SCRIPT })
    this.#redis = redis as ScriptedRedis
  }

  /** Errors are reported through the caller's operations; this only observes connection state. */
  onError(listener: (error: Error) => void): void {
    this.#redis.on('error', listener)
  }

  async connect(): Promise<void> {
    await this.#call(() => this.#redis.connect())
  }

  get isReady(): boolean {
    return this.#redis.status === 'ready'
  }

  /** Atomically: already done, claimed by someone else (for how long), or now ours. */
  claim(kind: NotificationKind, processingId: number, ttlMs: number): Promise<ClaimResult> {
    const keys = keysFor(kind, processingId)
    return this.#call(() => this.#claims.add({ keys, token: `${this.#instance}:${++this.#claimCount}`, ttlMs: Math.ceil(ttlMs) }))
  }

  /** Delivered or finally given up: never send it again (for STORAGE_TIME_PROCESSED_MESSAGES). */
  finish(kind: NotificationKind, processingId: number, token: string, status: NotificationStatus, attempt: AttemptRecord): Promise<void> {
    const keys = keysFor(kind, processingId)
    return this.#call(() => this.#finishes.add({ keys, token, statusJson: JSON.stringify(status), attemptJson: JSON.stringify(attempt) }))
  }

  /** The attempt failed and the notification now waits in a retry tier: the claim is given back. */
  async reschedule(kind: NotificationKind, processingId: number, token: string, status: NotificationStatus, attempt: AttemptRecord): Promise<void> {
    const keys = keysFor(kind, processingId)
    await this.#call(() =>
      this.#redis.rescheduleNotification(keys.claim, keys.status, keys.attempts, token, this.#processedTtlSeconds, JSON.stringify(status), JSON.stringify(attempt)),
    )
  }

  /** Status and attempt history of a notification; undefined when none is known. */
  async status(kind: NotificationKind, processingId: number): Promise<{ status: NotificationStatus | { status: 'pending' }; history: AttemptRecord[] } | undefined> {
    const keys = keysFor(kind, processingId)
    const [status, history, claimed] = await this.#call(() =>
      Promise.all([this.#redis.get(keys.status), this.#redis.lrange(keys.attempts, 0, -1), this.#redis.exists(keys.claim)]),
    )
    const attempts = history.map((entry) => JSON.parse(entry) as AttemptRecord)
    if (status !== null) return { status: JSON.parse(status) as NotificationStatus, history: attempts }
    if (claimed === 1) return { status: { status: 'pending' }, history: attempts }
    return undefined
  }

  /** Marks a notification given up without a claim (deferred past its whole schedule). */
  async forceFinish(kind: NotificationKind, processingId: number): Promise<void> {
    await this.#call(() => this.#redis.set(keysFor(kind, processingId).done, '_', 'EX', this.#processedTtlSeconds))
  }

  /** Gives the claim back without marking done (shutdown: another replica takes over at once). */
  async release(kind: NotificationKind, processingId: number, token: string): Promise<void> {
    await this.#call(() => this.#redis.releaseClaim(keysFor(kind, processingId).claim, token))
  }

  /** Forgets that a notification was sent or given up, so it may be sent again (replay). */
  async forget(kind: NotificationKind, processingId: number): Promise<void> {
    await this.#call(() => this.#redis.del(keysFor(kind, processingId).done))
  }

  /** Records that a dead letter was replayed; false if it already was. */
  async markReplayed(key: string): Promise<boolean> {
    return (await this.#call(() => this.#redis.set(key, '_', 'EX', this.#processedTtlSeconds, 'NX'))) === 'OK'
  }

  /** Which of these dead letters were replayed already (markers from markReplayed). */
  async wereReplayed(keys: readonly string[]): Promise<boolean[]> {
    if (keys.length === 0) return []
    const values = await this.#call(() => this.#redis.mget(...keys))
    return values.map((value) => value !== null)
  }

  async recordRequest(processingId: number, request: RecordedRequest): Promise<void> {
    const key = redisKeys.request(processingId)
    await this.#call(() => this.#redis.set(key, JSON.stringify(request), 'EX', this.#processedTtlSeconds))
  }

  async recordedRequest(processingId: number): Promise<RecordedRequest | undefined> {
    const text = await this.#call(() => this.#redis.get(redisKeys.request(processingId)))
    return text === null ? undefined : (JSON.parse(text) as RecordedRequest)
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.#redis.ping()) === 'PONG'
    } catch {
      return false
    }
  }

  async close(): Promise<void> {
    try {
      await this.#redis.quit()
    } catch {
      this.#redis.disconnect()
    }
  }

  async #claimMany(claims: readonly PendingClaim[]): Promise<ClaimResult[]> {
    const keysAndArgs: Array<string | number> = []
    for (const { keys } of claims) keysAndArgs.push(keys.done, keys.claim)
    for (const { token, ttlMs } of claims) keysAndArgs.push(token, ttlMs)
    const answers = await this.#redis.claimNotifications(2 * claims.length, ...keysAndArgs)
    return claims.map(({ token }, i): ClaimResult => {
      const status = answers[2 * i]
      const pttl = answers[2 * i + 1] ?? 0
      if (status === 0) return { status: 'done' }
      if (status === 1) return { status: 'claimed', token }
      return { status: 'busy', retryInMs: pttl > 0 ? pttl : 100 }
    })
  }

  async #finishMany(finishes: readonly PendingFinish[]): Promise<void[]> {
    const keysAndArgs: Array<string | number> = []
    for (const { keys } of finishes) keysAndArgs.push(keys.done, keys.claim, keys.status, keys.attempts)
    keysAndArgs.push(this.#processedTtlSeconds)
    for (const { token, statusJson, attemptJson } of finishes) keysAndArgs.push(token, statusJson, attemptJson)
    await this.#redis.finishNotifications(4 * finishes.length, ...keysAndArgs)
    return new Array<void>(finishes.length).fill(undefined)
  }

  async #call<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation()
    } catch (error) {
      const message = (error as Error).message
      // A key of ours holding another type (written by something else): asking again gives
      // the same answer, so the record is dead-lettered instead of retried for ever.
      if (message.startsWith('WRONGTYPE')) throw new NotificationError(ErrorCodes.STORE_REJECTED, `Redis: ${message}`, false, { cause: error })
      throw new InfrastructureError(ErrorCodes.STORE_UNAVAILABLE, `Redis: ${message}`, { cause: error })
    }
  }
}

function keysFor(kind: NotificationKind, processingId: number): { done: string; claim: string; status: string; attempts: string } {
  return kind === NotificationKinds.RESULT
    ? {
        done: redisKeys.processed(processingId),
        claim: redisKeys.inFlight(processingId),
        status: redisKeys.status(processingId),
        attempts: redisKeys.attempts(processingId),
      }
    : {
        done: redisKeys.acceptedSent(processingId),
        claim: redisKeys.acceptedInFlight(processingId),
        status: redisKeys.acceptedStatus(processingId),
        attempts: redisKeys.acceptedAttempts(processingId),
      }
}
