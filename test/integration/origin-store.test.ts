// The origin state the consumer group shares, against the real Redis: rate-limit slots
// (GCRA) spaced by the interval whoever asks, a Retry-After hold that pushes them back,
// pauses announced to every subscriber, parked notifications kept in order.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { OriginStore } from '../../src/store/origin-store.ts'

const settings = loadConfig({ REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }).redis
const stores: OriginStore[] = []
const storeOf = (group: string) => {
  const store = new OriginStore(settings, group)
  stores.push(store)
  return store
}

after(async () => {
  await Promise.all(stores.map((store) => store.close()))
})

describe('OriginStore', () => {
  test('slots of one origin are one interval apart, asked by two replicas in one batch each; other origins and groups are apart', async () => {
    const group = `g-${randomUUID()}`
    const [a, b] = [storeOf(group), storeOf(group)]
    const origin = 'https://limited.example'
    // Each store learns Redis's clock from its round trips, trusting the shortest: the first
    // includes connecting (CI: 7 ms apart from the other store's estimate). A few first.
    for (let i = 0; i < 3; i++) await Promise.all([a, b].map((store) => store.reserve('https://warm-up.example', 1000)))
    const before = Date.now()
    const slots = (await Promise.all([...Array.from({ length: 10 }, () => a.reserve(origin, 100)), ...Array.from({ length: 10 }, () => b.reserve(origin, 100))])).sort((x, y) => x - y)
    assert.ok(Math.abs((slots[0] ?? 0) - before) < 1000, 'the first slot is now')
    // Each replica turns Redis's times into its own clock, each with its estimate of the offset (within half a round trip).
    for (let i = 1; i < slots.length; i++) assert.ok(Math.abs((slots[i] ?? 0) - (slots[i - 1] ?? 0) - 10) <= 5, `10 ms apart: ${slots.join(', ')}`)
    assert.ok(Math.abs((await a.reserve('https://other.example', 100)) - Date.now()) < 1000, 'another origin has its own slots')
    assert.ok(Math.abs((await storeOf(`g-${randomUUID()}`).reserve(origin, 100)) - Date.now()) < 1000, 'another group has its own')
  })

  test('a Retry-After hold pushes the next slot to its end; a shorter hold does not shorten it', async () => {
    const store = storeOf(`g-${randomUUID()}`)
    const origin = 'https://held.example'
    const now = Date.now()
    await store.hold(origin, now + 5000, now)
    await store.hold(origin, now + 1000, now)
    const slot = await store.reserve(origin, 10)
    assert.ok(slot >= now + 5000 && slot < now + 5100, `slot ${slot - now} ms from now`)
    const kept = (await store.snapshot(Date.now())).holds.get(origin) ?? 0
    assert.ok(Math.abs(kept - (now + 5000)) <= 1, `the hold is kept on Redis's clock and read back on ours (within a ms): ${kept - now}`)
    assert.equal((await store.snapshot(now + 6000)).holds.has(origin), false, 'a hold that is over is not reported')
  })

  test('a pause is announced to every subscriber; an automatic pause never replaces an operator\'s', async () => {
    const group = `g-${randomUUID()}`
    const [a, b] = [storeOf(group), storeOf(group)]
    const heard: string[] = []
    await b.subscribe((origin) => heard.push(origin))
    const origin = 'https://paused.example'
    assert.equal(await a.pause(origin, { by: 'operator', since: new Date().toISOString(), reason: 'maintenance' }, false), true)
    assert.equal(await a.pause(origin, { by: 'automatic', since: new Date().toISOString(), reason: 'circuit' }, true), false)
    assert.equal((await b.snapshot(Date.now())).pauses.get(origin)?.by, 'operator')
    for (let i = 0; i < 50 && heard.length < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.deepEqual(heard, [origin, origin])
    assert.equal(await b.resume(origin), true)
    assert.equal(await b.resume(origin), false)
    assert.equal((await a.snapshot(Date.now())).pauses.size, 0)
  })

  test('parked notifications stay in order and the origin is forgotten once none is left', async () => {
    const store = storeOf(`g-${randomUUID()}`)
    const origin = 'https://parked.example'
    for (let i = 0; i < 5; i++) await store.park(origin, `record ${i}`)
    assert.deepEqual(await store.parkedOrigins(), [origin])
    assert.deepEqual(await store.peekParked(origin, 3), ['record 0', 'record 1', 'record 2'])
    assert.equal(await store.dropParked(origin, 3), 2)
    assert.deepEqual(await store.parkedCounts([origin]), [2])
    assert.equal(await store.lockDrain(origin, 'me', 1000), true)
    assert.equal(await store.lockDrain(origin, 'you', 1000), false, 'one drainer at a time')
    await store.unlockDrain(origin, 'me')
    assert.equal(await store.dropParked(origin, 2), 0)
    assert.deepEqual(await store.parkedOrigins(), [])
  })
})
