// The Redis side of "nothing twice", against the real Redis: claims and "sent" markers made
// in the same turn travel as one script call, and each caller still gets its own answer.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { createServer, connect as connectTcp, type AddressInfo, type Socket } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { loadConfig } from '../../src/config.ts'
import { notificationKeys } from '../../src/names.ts'
import { NotificationKinds } from '../../src/notifications/kinds.ts'
import { ErrorCodes, type NotificationError } from '../../src/errors.ts'
import { NotificationStore, type AttemptRecord, type NotificationStatus } from '../../src/store/notification-store.ts'
import { COMMAND_TIMEOUT_MS } from '../../src/store/redis-client.ts'
import { newProcessingId } from '../helpers/messages.ts'

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const RESULT = NotificationKinds.RESULT
const TTL_SECONDS = 600
/** The history of a first copy: nothing attempted or deferred before it. */
const NONE = { attempts: 0, deferrals: 0 }
let store: NotificationStore
let rival: NotificationStore
let redis: Redis

before(async () => {
  const { redis: settings } = loadConfig({ REDIS_URL })
  store = new NotificationStore(settings, TTL_SECONDS)
  rival = new NotificationStore(settings, TTL_SECONDS)
  redis = new Redis(REDIS_URL)
  await Promise.all([store.connect(), rival.connect()])
})

after(async () => {
  await Promise.all([store?.close(), rival?.close(), redis?.quit()])
})

function delivered(at: Date): { status: NotificationStatus; attempt: AttemptRecord } {
  const attempt = { at: at.toISOString(), status_code: 200, error: null, duration_ms: 3 }
  return {
    status: { status: 'delivered', attempts: 1, last_status_code: 200, last_error: null, next_attempt_at: null, updated_at: at.toISOString() },
    attempt,
  }
}

/** Script calls Redis has executed so far (EVAL and EVALSHA). */
async function scriptCalls(): Promise<number> {
  const stats = await redis.info('commandstats')
  let calls = 0
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) calls += Number(match[1])
  return calls
}

describe('dedup store', () => {
  test('claims made in one turn: new ones claimed, sent ones done, a rival\'s busy; one script call for 300', async () => {
    const sent = newProcessingId()
    const held = newProcessingId()
    const fresh = Array.from({ length: 300 }, () => newProcessingId())

    const first = await store.claim(RESULT, sent, 30_000, NONE)
    assert.equal(first.status, 'claimed')
    const { status, attempt } = delivered(new Date())
    await store.saveSettlement({ kind: RESULT, processingId: sent, done: true, token: first.status === 'claimed' ? first.token : undefined, status, attempt })
    assert.equal((await rival.claim(RESULT, held, 30_000, NONE)).status, 'claimed')

    const before = await scriptCalls()
    const [sentAgain, heldAgain, ...claims] = await Promise.all([sent, held, ...fresh].map((id) => store.claim(RESULT, id, 30_000, NONE)))
    const calls = (await scriptCalls()) - before

    assert.deepEqual(sentAgain, { status: 'done' })
    assert.equal(heldAgain?.status, 'busy')
    assert.ok(heldAgain?.status === 'busy' && heldAgain.retryInMs > 25_000 && heldAgain.retryInMs <= 30_000, JSON.stringify(heldAgain))
    assert.ok(claims.every((claim) => claim.status === 'claimed'))
    assert.equal(new Set(claims.map((claim) => (claim.status === 'claimed' ? claim.token : ''))).size, 300, 'every claim has its own token')
    assert.equal(calls, 1, `302 claims in one turn took ${calls} script calls`)
  })

  test('finishing many at once: each marked sent with its status, its claim released only by its own token', async () => {
    const ids = Array.from({ length: 50 }, () => newProcessingId())
    const tokens = await Promise.all(ids.map(async (id) => {
      const claim = await store.claim(RESULT, id, 30_000, NONE)
      assert.equal(claim.status, 'claimed')
      return claim.status === 'claimed' ? claim.token : ''
    }))
    const at = new Date()
    const { status, attempt } = delivered(at)
    // The last one is finished with a token that is not its claim's: marked sent, claim kept.
    await Promise.all(ids.map((id, i) => store.saveSettlement({ kind: RESULT, processingId: id, done: true, token: i === ids.length - 1 ? 'someone-else' : tokens[i], status, attempt })))

    for (const [i, id] of ids.entries()) {
      const known = await store.status(RESULT, id)
      assert.deepEqual(known, { status, history: [attempt] }, `status of ${id}`)
      assert.deepEqual(await rival.claim(RESULT, id, 30_000, NONE), { status: 'done' })
      const claimTtl = await redis.pttl(notificationKeys(RESULT, id).claim)
      if (i === ids.length - 1) assert.ok(claimTtl > 0, 'a claim held by another token stays')
      else assert.equal(claimTtl, -2, 'own claim released')
    }
  })

  test('waiting for a retry: claim released, not marked sent, status and history kept', async () => {
    const id = newProcessingId()
    const claim = await store.claim(RESULT, id, 30_000, NONE)
    assert.equal(claim.status, 'claimed')
    const attempt = { at: new Date().toISOString(), status_code: 503, error: 'callback answered 503', duration_ms: 4 }
    const status: NotificationStatus = { status: 'retrying', attempts: 1, last_status_code: 503, last_error: attempt.error, next_attempt_at: new Date().toISOString(), updated_at: attempt.at }
    await store.saveSettlement({ kind: RESULT, processingId: id, done: false, token: claim.status === 'claimed' ? claim.token : undefined, status, attempt })
    assert.deepEqual(await store.status(RESULT, id), { status, history: [attempt] })
    assert.equal((await rival.claim(RESULT, id, 30_000, { attempts: 1, deferrals: 0 })).status, 'claimed', 'free for the next attempt (its retry record knows of 1), by any replica')
  })

  // A record read twice (a rebalance, a crash before its commit): each copy made its own
  // attempt and its own retry record at every step of the schedule (issue 21: twins).
  test('a copy written before an attempt another copy made since (status "retrying" with more attempts) is superseded, not claimed', async () => {
    const id = newProcessingId()
    const first = await store.claim(RESULT, id, 30_000, NONE)
    assert.equal(first.status, 'claimed')
    const attempt = { at: new Date().toISOString(), status_code: 503, error: 'callback answered 503', duration_ms: 4 }
    const status: NotificationStatus = { status: 'retrying', attempts: 1, last_status_code: 503, last_error: attempt.error, next_attempt_at: new Date().toISOString(), updated_at: attempt.at, deferrals: 0 }
    await store.saveSettlement({ kind: RESULT, processingId: id, done: false, token: first.status === 'claimed' ? first.token : undefined, status, attempt })
    const [twin, carrier] = await Promise.all([rival.claim(RESULT, id, 30_000, NONE), rival.claim(RESULT, newProcessingId(), 30_000, NONE)])
    assert.deepEqual([twin, carrier.status], [{ status: 'superseded' }, 'claimed'], 'each claim of one script call gets its own answer')
    assert.equal(await redis.exists(notificationKeys(RESULT, id).claim), 0, 'a superseded copy takes no claim')
    await redis.set(notificationKeys(RESULT, id).status, JSON.stringify({ ...status, status: 'failed', attempts: 5 }))
    assert.equal((await rival.claim(RESULT, id, 30_000, NONE)).status, 'claimed', 'an ended status never supersedes (a dead letter replayed after its done marker was forgotten)')
    const foreign = newProcessingId()
    await redis.set(notificationKeys(RESULT, foreign).status, 'not json')
    assert.equal((await rival.claim(RESULT, foreign, 30_000, NONE)).status, 'claimed', 'a status that is not ours is ignored')
  })

  test('deferred since (as many attempts, more deferrals) supersedes too; a status without deferrals (written before they were kept) never does by them', async () => {
    const id = newProcessingId()
    const deferred: NotificationStatus = { status: 'retrying', attempts: 1, last_status_code: null, last_error: null, next_attempt_at: new Date().toISOString(), updated_at: new Date().toISOString(), deferrals: 2 }
    await redis.set(notificationKeys(RESULT, id).status, JSON.stringify(deferred))
    assert.deepEqual(await store.claim(RESULT, id, 30_000, { attempts: 1, deferrals: 1 }), { status: 'superseded' })
    assert.equal((await store.claim(RESULT, id, 30_000, { attempts: 1, deferrals: 2 })).status, 'claimed', 'the copy that deferral wrote')
    const old = newProcessingId()
    const { deferrals: _, ...before } = deferred
    await redis.set(notificationKeys(RESULT, old).status, JSON.stringify(before))
    assert.equal((await store.claim(RESULT, old, 30_000, { attempts: 1, deferrals: 0 })).status, 'claimed')
  })

  test('settled again after it is done (a stale copy, its claim expired): the first settlement stands; only its own claim is released', async () => {
    const id = newProcessingId()
    const stale = await store.claim(RESULT, id, 30_000, NONE)
    assert.equal(stale.status, 'claimed')
    await redis.del(notificationKeys(RESULT, id).claim) // its claim expired while it was frozen
    const fresh = await rival.claim(RESULT, id, 30_000, NONE)
    assert.equal(fresh.status, 'claimed')
    const first = delivered(new Date())
    assert.equal(await rival.saveSettlement({ kind: RESULT, processingId: id, done: true, token: fresh.status === 'claimed' ? fresh.token : undefined, ...first }), true, 'the first settlement stands')
    const attempt = { at: new Date().toISOString(), status_code: null, error: 'no answer within 2000 ms', duration_ms: 2000 }
    const late: NotificationStatus = { status: 'retrying', attempts: 1, last_status_code: null, last_error: attempt.error, next_attempt_at: new Date().toISOString(), updated_at: attempt.at }
    const [stands, other] = await Promise.all([
      store.saveSettlement({ kind: RESULT, processingId: id, done: false, token: stale.status === 'claimed' ? stale.token : undefined, status: late, attempt }),
      store.saveSettlement({ kind: RESULT, processingId: newProcessingId(), done: true, token: undefined, ...first }),
    ])
    assert.deepEqual([stands, other], [false, true], 'each settlement of one script call told whether it stands')
    assert.deepEqual(await store.status(RESULT, id), { status: first.status, history: [first.attempt] })
    assert.deepEqual(await store.claim(RESULT, id, 30_000, NONE), { status: 'done' })
  })

  test('a dead letter held while a give-up is settled: read back as written, in the notification\'s slot, gone once dropped', async () => {
    const id = newProcessingId()
    const letter = JSON.stringify({ reason: 'gone', code: 'DELIVERY_GONE', processing_id: id })
    assert.equal(await store.heldLetter(RESULT, id), undefined)
    await store.holdLetter(RESULT, id, letter)
    assert.equal(await rival.heldLetter(RESULT, id), letter, 'any replica reads it')
    const ttl = await redis.ttl(notificationKeys(RESULT, id).letter)
    assert.ok(ttl > TTL_SECONDS - 5 && ttl <= TTL_SECONDS, `kept as long as the done marker (ttl ${ttl})`)
    await rival.dropLetter(RESULT, id)
    assert.equal(await store.heldLetter(RESULT, id), undefined)
  })

  test('given up before any attempt (no claim, no attempt): marked sent with its status, empty history', async () => {
    const id = newProcessingId()
    const status: NotificationStatus = { status: 'failed', attempts: 0, last_status_code: null, last_error: 'origin unavailable', next_attempt_at: null, updated_at: new Date().toISOString() }
    await store.saveSettlement({ kind: NotificationKinds.ACCEPTED, processingId: id, done: true, token: undefined, status, attempt: undefined })
    assert.deepEqual(await store.status(NotificationKinds.ACCEPTED, id), { status, history: [] })
    assert.deepEqual(await rival.claim(NotificationKinds.ACCEPTED, id, 30_000, NONE), { status: 'done' })
    assert.equal((await rival.claim(RESULT, id, 30_000, NONE)).status, 'claimed', 'the result of the same id is kept apart')
  })

  test('a key of another type (written by something else) spoils only its own history, not the batch', async () => {
    const [odd, fine] = [newProcessingId(), newProcessingId()]
    const tokens: string[] = []
    for (const id of [odd, fine]) {
      const claim = await store.claim(RESULT, id, 30_000, { attempts: 1, deferrals: 0 })
      tokens.push(claim.status === 'claimed' ? claim.token : '')
    }
    // For `odd` only: a hash where the claim is, and a status that is not our JSON, which its
    // second attempt's settlement reads for the history so far.
    await redis.del(notificationKeys(RESULT, odd).claim)
    await redis.hset(notificationKeys(RESULT, odd).claim, 'owner', 'someone')
    await redis.hset(notificationKeys(RESULT, odd).status, 'written', 'by someone else')

    const { status, attempt } = delivered(new Date())
    const second = { ...status, attempts: 2 }
    await Promise.all([odd, fine].map((id, i) => store.saveSettlement({ kind: RESULT, processingId: id, done: true, token: tokens[i], status: second, attempt })))

    assert.deepEqual(await rival.claim(RESULT, odd, 30_000, NONE), { status: 'done' }, 'the odd one is still marked sent')
    assert.deepEqual(await rival.claim(RESULT, fine, 30_000, NONE), { status: 'done' })
    assert.deepEqual(await store.status(RESULT, fine), { status: second, history: [attempt] })
    assert.deepEqual(await store.status(RESULT, odd), { status: second, history: [attempt] }, 'the foreign status replaced, its history lost')
    assert.equal(await redis.hget(notificationKeys(RESULT, odd).claim, 'owner'), 'someone', 'foreign claim left as it was')
  })

  test('the history across attempts: each settlement adds its attempt after those kept, the last 20 kept; a deferral keeps it as it is', async () => {
    const id = newProcessingId()
    const attempts: AttemptRecord[] = []
    for (let n = 1; n <= 22; n++) {
      const claim = await store.claim(RESULT, id, 30_000, { attempts: n - 1, deferrals: 0 })
      assert.equal(claim.status, 'claimed', `attempt ${n} claimed`)
      const attempt = { at: new Date(Date.UTC(2026, 11, 5, 0, 0, n)).toISOString(), status_code: 500 + (n % 4), error: `callback answered ${500 + (n % 4)}`, duration_ms: n + 0.25 }
      attempts.push(attempt)
      const status: NotificationStatus = { status: 'retrying', attempts: n, last_status_code: attempt.status_code, last_error: attempt.error, next_attempt_at: attempt.at, updated_at: attempt.at, deferrals: 0 }
      assert.equal(await store.saveSettlement({ kind: RESULT, processingId: id, done: false, token: claim.status === 'claimed' ? claim.token : undefined, status, attempt }), true)
      if (n === 2) assert.deepEqual((await store.status(RESULT, id))?.history, attempts, 'the first attempt, then the second')
    }
    assert.deepEqual((await store.status(RESULT, id))?.history, attempts.slice(-20), 'the last 20, oldest first')

    const deferred: NotificationStatus = { status: 'retrying', attempts: 22, last_status_code: null, last_error: 'origin held', next_attempt_at: new Date().toISOString(), updated_at: new Date().toISOString(), deferrals: 1 }
    await store.saveSettlement({ kind: RESULT, processingId: id, done: false, token: undefined, status: deferred, attempt: undefined })
    assert.deepEqual(await store.status(RESULT, id), { status: deferred, history: attempts.slice(-20) }, 'a settlement without an attempt keeps the history')
  })

  test('a history kept by a version before 2026-12-05 (a list of its own) is read first, then the status\'s own', async () => {
    const id = newProcessingId()
    const old = { at: new Date(Date.now() - 60_000).toISOString(), status_code: 503, error: 'callback answered 503', duration_ms: 5 }
    await redis.rpush(notificationKeys(RESULT, id).attempts, JSON.stringify(old))
    const written = { status: 'retrying', attempts: 1, last_status_code: 503, last_error: old.error, next_attempt_at: old.at, updated_at: old.at }
    await redis.set(notificationKeys(RESULT, id).status, JSON.stringify(written))
    const claim = await store.claim(RESULT, id, 30_000, { attempts: 1, deferrals: 0 })
    const { attempt } = delivered(new Date())
    const status = { ...delivered(new Date()).status, attempts: 2 }
    await store.saveSettlement({ kind: RESULT, processingId: id, done: true, token: claim.status === 'claimed' ? claim.token : undefined, status, attempt })
    assert.deepEqual(await store.status(RESULT, id), { status, history: [old, attempt] })
  })

  test('how a done notification ended, read back for its outcome: kept, gone, or not ours', async () => {
    const [kept, expired, foreign] = [newProcessingId(), newProcessingId(), newProcessingId()]
    const { status, attempt } = delivered(new Date())
    for (const id of [kept, expired, foreign]) await store.saveSettlement({ kind: RESULT, processingId: id, done: true, token: undefined, status, attempt })
    await redis.del(notificationKeys(RESULT, expired).status)
    await redis.del(notificationKeys(RESULT, foreign).status)
    await redis.hset(notificationKeys(RESULT, foreign).status, 'written', 'by someone else')

    assert.deepEqual(await rival.doneStatus(RESULT, kept), status)
    assert.equal(await rival.doneStatus(RESULT, expired), undefined)
    assert.equal(await rival.doneStatus(RESULT, foreign), undefined, 'another writer\'s key: no outcome to publish, not an error')
    assert.equal(await rival.doneStatus(NotificationKinds.ACCEPTED, kept), undefined, 'each kind apart')
  })
})

/** A port that forwards to the real Redis until `blackHole()`: from then on it passes nothing either way, closing nothing. */
async function forwarder(listenPort = 0): Promise<{ port: number; blackHole(): void; close(): Promise<void> }> {
  const upstream = new URL(REDIS_URL)
  const sockets: Socket[] = []
  let holding = false
  const server = createServer((socket: Socket) => {
    const to = connectTcp(Number(upstream.port || 6379), upstream.hostname)
    sockets.push(socket, to)
    socket.on('data', (chunk) => void (holding || to.write(chunk)))
    to.on('data', (chunk) => void (holding || socket.write(chunk)))
    const close = (): void => void (socket.destroy(), to.destroy())
    socket.on('error', close)
    to.on('error', close)
  })
  server.listen(listenPort, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    blackHole: () => (holding = true),
    close: async () => {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}

describe('a server that stops answering without closing its connection', () => {
  // A frozen or partitioned master: without a command timeout its claim, and the record
  // waiting on it, would wait for ever, holding the partition's commits back.
  test('a claim fails as STORE_UNAVAILABLE after the command timeout, so its step tries it again', { timeout: 30_000 }, async () => {
    const silent = await forwarder()
    const store = new NotificationStore(loadConfig({ REDIS_URL: `redis://127.0.0.1:${silent.port}` }).redis, TTL_SECONDS)
    try {
      await store.connect()
      assert.equal((await store.claim(RESULT, newProcessingId(), 1000, NONE)).status, 'claimed')
      silent.blackHole()
      const started = performance.now()
      await assert.rejects(store.claim(RESULT, newProcessingId(), 1000, NONE), (error: NotificationError) => {
        assert.equal(error.code, ErrorCodes.STORE_UNAVAILABLE)
        assert.match(error.message, /timed out/i)
        return true
      })
      const waited = performance.now() - started
      assert.ok(waited >= COMMAND_TIMEOUT_MS - 100 && waited < COMMAND_TIMEOUT_MS + 3000, `failed after ${Math.round(waited)} ms`)
    } finally {
      await store.close()
      await silent.close()
    }
  })
})

describe('connecting', () => {
  // The soak (issue 21): a replica started while the Sentinel master was down failed its first
  // try; the client then reconnected by itself, and every later try threw "already
  // connecting/connected", for three minutes, though Redis answered again.
  test('a try after a failed one succeeds once Redis answers, while the client reconnects by itself', async () => {
    const upstream = new URL(REDIS_URL)
    // A port that refuses at first, then forwards to the real Redis.
    const forwarder = createServer((socket: Socket) => {
      const to = connectTcp(Number(upstream.port || 6379), upstream.hostname)
      socket.pipe(to).pipe(socket)
      const close = (): void => void (socket.destroy(), to.destroy())
      socket.on('error', close)
      to.on('error', close)
    })
    forwarder.listen(0, '127.0.0.1')
    await once(forwarder, 'listening')
    const { port } = forwarder.address() as AddressInfo
    forwarder.close()
    await once(forwarder, 'close')

    const late = new NotificationStore(loadConfig({ REDIS_URL: `redis://127.0.0.1:${port}` }).redis, TTL_SECONDS)
    try {
      await assert.rejects(late.connect(), /ECONNREFUSED/)
      forwarder.listen(port, '127.0.0.1')
      await once(forwarder, 'listening')
      await new Promise((resolve) => setTimeout(resolve, 1500)) // the client's own retry gets there first
      await late.connect()
      assert.equal(late.isReady, true)
      assert.equal((await late.claim(RESULT, newProcessingId(), 1000, NONE)).status, 'claimed')
    } finally {
      await late.close()
      forwarder.close()
    }
  })
})
