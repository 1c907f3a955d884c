// What the consumer group shares about callback origins, in Redis: pauses (by an operator
// or automatically), Retry-After holds, rate-limit slots and the notifications parked while
// an origin is paused. Changes are announced on a pub/sub channel so that every replica
// sees a pause within milliseconds; origins/origin-controls.ts keeps the local view.
// Every key comes from names.ts (originKeys).
import type { RedisSettings } from '../config.ts'
import { ClockOffset } from '../lib/clock-offset.ts'
import { MicroBatcher } from '../lib/micro-batcher.ts'
import { originKeys, type OriginKeys } from '../names.ts'
import { createScriptedClient, type LuaScript } from './lua-scripts.ts'
import { closeRedisClient, createRedisClient, type RedisClient } from './redis-client.ts'
import { redisCall } from './redis-errors.ts'

/** Why and since when an origin is paused. */
export interface OriginPause {
  readonly by: 'operator' | 'automatic'
  /** ISO time the pause began. */
  readonly since: string
  readonly reason: string
  /** Automatic pauses: when the circuit opened, and the last error seen. */
  readonly circuit_open_since?: string
  readonly last_error?: string
}

/** The shared state of every origin that has some. */
export interface OriginsSnapshot {
  readonly pauses: ReadonlyMap<string, OriginPause>
  /** Origin → epoch ms (this replica's clock) until which it asked not to be called. */
  readonly holds: ReadonlyMap<string, number>
}

interface Reservation {
  readonly origin: string
  readonly intervalMs: number
}

const MAX_BATCH = 500

interface ScriptedCommands {
  reserveSends(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<number[]>
  holdOrigin(holds: string, origin: string, until: number, now: number): Promise<number>
  dropParked(list: string, set: string, count: number, origin: string): Promise<number>
}
type ScriptedRedis = RedisClient & ScriptedCommands

const SCRIPTS: Record<keyof ScriptedCommands, LuaScript> = {
  reserveSends: { file: 'reserve-sends' },
  holdOrigin: { file: 'hold-origin', numberOfKeys: 1 },
  dropParked: { file: 'drop-parked', numberOfKeys: 2 },
}

export class OriginStore {
  readonly #redis: ScriptedRedis
  readonly #settings: RedisSettings
  readonly #keys: OriginKeys
  #subscriber: RedisClient | undefined
  /** Redis's clock against ours: slots are Redis times, sends wait by ours. */
  readonly #redisClock = new ClockOffset()
  readonly #reservations = new MicroBatcher<Reservation, number>((batch) => this.#reserveMany(batch), { maxBatch: MAX_BATCH })

  constructor(settings: RedisSettings, groupId: string) {
    this.#settings = settings
    this.#keys = originKeys(groupId)
    const redis = createScriptedClient<ScriptedCommands>(settings, SCRIPTS)
    redis.on('error', () => undefined)
    this.#redis = redis
  }

  /** Every pause and every hold not over yet. */
  async snapshot(now: number): Promise<OriginsSnapshot> {
    await this.#knowRedisClock()
    const [pauses, holds] = await redisCall(() => Promise.all([this.#redis.hgetall(this.#keys.pauses), this.#redis.hgetall(this.#keys.holds)]))
    const pauseMap = new Map<string, OriginPause>()
    for (const [origin, json] of Object.entries(pauses)) {
      try {
        pauseMap.set(origin, JSON.parse(json) as OriginPause)
      } catch {
        pauseMap.set(origin, { by: 'operator', since: new Date(0).toISOString(), reason: 'unreadable pause record' })
      }
    }
    const holdMap = new Map<string, number>()
    for (const [origin, until] of Object.entries(holds)) {
      const local = this.#redisClock.toLocal(Number(until))
      if (local > now) holdMap.set(origin, local)
    }
    return { pauses: pauseMap, holds: holdMap }
  }

  /**
   * Pauses an origin. `onlyIfRunning`: leave an existing pause as it is (an automatic pause
   * never overrides an operator's). True when this call paused it.
   */
  async pause(origin: string, pause: OriginPause, onlyIfRunning: boolean): Promise<boolean> {
    const value = JSON.stringify(pause)
    const set = await redisCall(() => (onlyIfRunning ? this.#redis.hsetnx(this.#keys.pauses, origin, value) : this.#redis.hset(this.#keys.pauses, origin, value)))
    await this.#announce(origin)
    return !onlyIfRunning || set === 1
  }

  /** True when the origin was paused. */
  async resume(origin: string): Promise<boolean> {
    const removed = await redisCall(() => this.#redis.hdel(this.#keys.pauses, origin))
    await this.#announce(origin)
    return removed === 1
  }

  /** The origin asked (Retry-After) not to be called before `until`: a later hold is kept. */
  async hold(origin: string, until: number, now: number): Promise<void> {
    await this.#knowRedisClock()
    // Kept on Redis's clock, as the rate-limit slots it pushes back are.
    const toRedis = (local: number) => Math.ceil(local + this.#redisClock.offsetMs)
    await redisCall(() => this.#redis.holdOrigin(this.#keys.holds, origin, toRedis(until), toRedis(now)))
    await this.#announce(origin)
  }

  async #knowRedisClock(): Promise<void> {
    if (!this.#redisClock.known) await this.syncClock()
  }

  /** Learns Redis's clock before the first slot is asked for (the best of a few round trips). */
  async syncClock(rounds = 5): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      const sentAt = Date.now()
      const [seconds, micros] = await redisCall(() => this.#redis.time())
      this.#redisClock.sample(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000), sentAt, Date.now())
    }
  }

  /** Takes the origin's next send slot: when it is, epoch ms on this replica's clock. Batched per turn. */
  reserve(origin: string, perSecond: number): Promise<number> {
    return redisCall(() => this.#reservations.add({ origin, intervalMs: 1000 / perSecond }))
  }

  /** How far ahead each origin's next free slot is, ms (0: none reserved ahead). */
  async rateBacklogMs(origins: readonly string[], now: number): Promise<number[]> {
    if (origins.length === 0) return []
    const values = await redisCall(() => Promise.all(origins.map((origin) => this.#redis.get(this.#keys.rate(origin)))))
    return values.map((value) => (value === null ? 0 : Math.max(0, Math.round(this.#redisClock.toLocal(Number(value)) - now))))
  }

  /** Keeps a notification of a paused origin, after those parked before it. */
  async park(origin: string, stored: string): Promise<void> {
    await redisCall(async () => {
      await this.#redis.rpush(this.#keys.parked(origin), stored)
      await this.#redis.sadd(this.#keys.parkedOrigins, origin)
    })
  }

  async parkedOrigins(): Promise<string[]> {
    return redisCall(() => this.#redis.smembers(this.#keys.parkedOrigins))
  }

  async parkedCounts(origins: readonly string[]): Promise<number[]> {
    return redisCall(() => Promise.all(origins.map((origin) => this.#redis.llen(this.#keys.parked(origin)))))
  }

  /** The oldest `count` parked notifications, oldest first (they stay until dropParked). */
  async peekParked(origin: string, count: number): Promise<string[]> {
    return redisCall(() => this.#redis.lrange(this.#keys.parked(origin), 0, count - 1))
  }

  /** Removes the oldest `count`; how many are left. */
  async dropParked(origin: string, count: number): Promise<number> {
    return redisCall(() => this.#redis.dropParked(this.#keys.parked(origin), this.#keys.parkedOrigins, count, origin))
  }

  /** One replica at a time moves an origin's parked notifications; true when this one may. */
  async lockDrain(origin: string, owner: string, ttlMs: number): Promise<boolean> {
    return (await redisCall(() => this.#redis.set(this.#keys.drainLock(origin), owner, 'PX', ttlMs, 'NX'))) === 'OK'
  }

  async unlockDrain(origin: string, owner: string): Promise<void> {
    await redisCall(async () => {
      if ((await this.#redis.get(this.#keys.drainLock(origin))) === owner) await this.#redis.del(this.#keys.drainLock(origin))
    })
  }

  /** Calls `listener(origin)` for every change any replica announces. */
  async subscribe(listener: (origin: string) => void): Promise<void> {
    this.#subscriber?.disconnect()
    const subscriber = createRedisClient(this.#settings)
    subscriber.on('error', () => undefined)
    subscriber.on('message', (_channel: string, origin: string) => listener(origin))
    this.#subscriber = subscriber
    await redisCall(async () => {
      await subscriber.connect()
      await subscriber.subscribe(this.#keys.changes)
    })
  }

  async close(): Promise<void> {
    await Promise.all([this.#redis, this.#subscriber].map((client) => (client ? closeRedisClient(client) : Promise.resolve())))
  }

  async #announce(origin: string): Promise<void> {
    await redisCall(() => this.#redis.publish(this.#keys.changes, origin))
  }

  async #reserveMany(batch: readonly Reservation[]): Promise<number[]> {
    const keysAndArgs: Array<string | number> = [this.#keys.holds]
    for (const { origin } of batch) keysAndArgs.push(this.#keys.rate(origin))
    for (const { origin, intervalMs } of batch) keysAndArgs.push(origin, intervalMs)
    const sentAt = Date.now()
    const [redisNow = 0, ...slots] = await this.#redis.reserveSends(1 + batch.length, ...keysAndArgs)
    this.#redisClock.sample(redisNow, sentAt, Date.now())
    return slots.map((slot) => this.#redisClock.toLocal(slot))
  }
}
