// The soak's invariants (scripts/soak/invariants.ts) on small made-up evidence: each check
// must fail on what it is there to catch, and pass what a crash or freeze allows.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkAll, whereAcked, type Evidence } from '../../../scripts/soak/invariants.ts'
import type { Fault } from '../../../scripts/soak/nemesis.ts'
import type { Request } from '../../../scripts/soak/origins.ts'
import { lastRetry } from '../../../scripts/soak/retry-tiers.ts'

const T0 = 1_000_000
const CLAIM_MS = 17_000

function evidence(parts: Partial<Evidence>): Evidence {
  return {
    sent: new Map([[1, { origin: 0, producedAt: T0, acked: true, partition: 0 }]]),
    behaviours: ['fast', 'gone'],
    requests: new Map(),
    letters: new Map(),
    inKafka: new Set([1]),
    sendingAt: new Map(),
    kafkaAudit: [],
    outcomes: new Map([[1, ['delivered']]]),
    redis: new Map([[1, { done: true, status: 'delivered', attempts: [] }]]),
    faults: [],
    lives: [],
    logProblems: [],
    crashes: [],
    crashTimes: [],
    claimMs: CLAIM_MS,
    attemptMs: 2000,
    lagLimit: 1000,
    recoveryLimitMs: 60_000,
    rssWarmupMs: 60_000,
    stoppedAt: T0 + 3_600_000,
    retries: new Map(),
    ...parts,
  }
}

const ok = (at: number): Request => ({ arrivedAt: at - 100, at, status: 200, webhookId: 'processing_1', signedAt: Math.floor((at - 100) / 1000) * 1000 })

function kill(at: number): Fault {
  return { kind: 'replica-kill9', parts: ['replica-kill9'], text: [], startedAt: at, endedAt: at + 5000, freezes: [], crashAt: [at], recoveredAt: at + 6000 }
}

function failed(e: Evidence): string[] {
  return checkAll(e).checks.filter((c) => !c.ok).map((c) => c.name)
}

describe('soak invariants', () => {
  it('one delivery, its outcome and Redis agreeing: every check passes', () => {
    assert.deepEqual(failed(evidence({ requests: new Map([[1, [ok(T0 + 500)]]]) })), [])
  })

  it('an id neither delivered nor dead-lettered is lost', () => {
    const e = evidence({ outcomes: new Map(), redis: new Map() })
    assert.deepEqual(failed(e), ['every id delivered or dead-lettered with the reason its origin implies, never both'])
  })

  it('a repeat explained by a kill -9 while it was in flight passes; without a fault it fails', () => {
    const twice = new Map([[1, [ok(T0 + 500), ok(T0 + 18_000)]]])
    assert.deepEqual(failed(evidence({ requests: twice, faults: [kill(T0 + 600)] })), [])
    assert.deepEqual(failed(evidence({ requests: twice })), ['a repeat only with the same webhook-id, only for an id in flight at a crash or freeze'])
  })

  it('an acknowledged id missing from the sending topic is lost before the service, and fails', () => {
    const checks = checkAll(evidence({ inKafka: new Set(), outcomes: new Map(), redis: new Map() })).checks
    const settled = checks.find((c) => c.name.startsWith('every id delivered'))
    assert.equal(settled?.ok, false)
    assert.match(settled?.detail ?? '', /1 acknowledged to the load's producer but not in the sending topic/)
  })

  it('an id still retrying at the end is pending only if its next attempt was due shortly before the replicas stopped; else it was dropped (lost)', () => {
    const sent = new Map([[1, { origin: 1, producedAt: T0, acked: true, partition: 0 }]])
    const retrying = (nextAttemptAt: number) => new Map([[1, { done: false, status: 'retrying', attempts: [], nextAttemptAt }]])
    const settled = (redis: Evidence['redis']) => checkAll(evidence({ sent, redis, outcomes: new Map() })).checks.find((c) => c.name.startsWith('every id delivered'))
    const stoppedAt = T0 + 3_600_000
    assert.equal(settled(retrying(stoppedAt - 30_000))?.ok, true)
    assert.match(settled(retrying(stoppedAt - 30_000))?.detail ?? '', /1 still in their retry schedule/)
    assert.equal(settled(retrying(stoppedAt - 600_000))?.ok, false)
    assert.match(settled(retrying(stoppedAt - 600_000))?.detail ?? '', /1 lost/)
  })

  it('an id whose status says a next attempt long past, but whose last retry record waits uncommitted, due near the end, is pending (a refusal before a claim leaves the status as it was)', () => {
    const sent = new Map([[1, { origin: 1, producedAt: T0, acked: true, partition: 0 }]])
    const stoppedAt = T0 + 3_600_000
    const redis = new Map([[1, { done: false, status: 'retrying', attempts: [], nextAttemptAt: stoppedAt - 600_000 }]])
    const waiting = (committed: boolean) => new Map([[1, [{ tier: '2s', partition: 3, offset: 594n, dueAt: stoppedAt + 5_000, committed }]]])
    const settled = (retries: Evidence['retries']) => checkAll(evidence({ sent, redis, retries, outcomes: new Map() })).checks.find((c) => c.name.startsWith('every id delivered'))
    assert.equal(settled(waiting(false))?.ok, true)
    assert.match(settled(waiting(false))?.detail ?? '', /1 still in their retry schedule/)
    assert.equal(settled(waiting(true))?.ok, false, 'committed past: nobody will handle it')
    assert.match(settled(waiting(true))?.detail ?? '', /1 lost/)
  })

  it('a stuck id shows its last retry record and whether its tier committed past it', () => {
    const traces = new Map([[1, [
      { tier: '1s', partition: 2, offset: 10n, dueAt: Date.UTC(2026, 0, 1, 12, 0, 1), committed: true },
      { tier: '4s', partition: 0, offset: 7n, dueAt: Date.UTC(2026, 0, 1, 12, 0, 9), committed: false },
    ]]])
    assert.equal(lastRetry(traces, 1), 'last retry 4s 0:7 due 12:00:09.000, not committed')
    assert.equal(lastRetry(traces, 2), 'no retry record in any tier')
  })

  it('an acknowledged id shows where the broker said it wrote it and what that offset holds now', () => {
    const sent = new Map([[1, { origin: 0, producedAt: T0, acked: true, partition: 2, offset: 41n }]])
    assert.equal(whereAcked(evidence({ sent }), 1), '1 at 2:41 (no record there now)')
    assert.equal(whereAcked(evidence({ sent, sendingAt: new Map([['2:41', 7]]) }), 1), '1 at 2:41 (holds 7 now)')
  })

  it('a record the readers saw that is gone when the topic is read again fails; offsets a follower passed over only show', () => {
    const audit = (vanished: number) => ({
      topic: 'soak-1.notifications',
      complete: true,
      followed: 10,
      final: 10,
      skippedByFollower: [{ partition: 1, from: 4n, to: 6n }],
      vanished: Array.from({ length: vanished }, (_, i) => ({ partition: 0, offset: String(i), value: '{}' })),
    })
    const kept = (n: number) => checkAll(evidence({ kafkaAudit: [audit(n)] })).checks.find((c) => c.name.startsWith('Kafka kept'))
    assert.equal(kept(0)?.ok, true)
    assert.match(kept(0)?.detail ?? '', /passed over .*3 offsets in 1 runs/)
    assert.equal(kept(1)?.ok, false)
    assert.match(kept(1)?.detail ?? '', /1 gone or changed, e\.g\. soak-1\.notifications 0:0/)
  })

  it('delivered by a replica killed just before the origin read it, then dead-lettered by the copy that took over: allowed', () => {
    const letters = new Map([[1, [{ code: 'CALLBACK_UNAVAILABLE', reason: 'x', attempts: 0, lastError: 'x', failedAt: '' }]]])
    const sent = new Map([[1, { origin: 1, producedAt: T0, acked: true, partition: 0 }]])
    const late = { sent, behaviours: ['fast', 'throttled'] as Evidence['behaviours'], letters, requests: new Map([[1, [ok(T0 + 700)]]]), outcomes: new Map([[1, ['failed']]]), redis: new Map([[1, { done: true, status: 'failed', attempts: [] }]]) }
    assert.deepEqual(failed(evidence({ ...late, faults: [kill(T0 + 500)] })), [])
    assert.ok(failed(evidence({ ...late, faults: [kill(T0 - 30_000)] })).includes('every id delivered or dead-lettered with the reason its origin implies, never both'))
  })

  it('a repeat after a replica exited by itself is explained by that crash (the crash itself fails the run elsewhere)', () => {
    const twice = new Map([[1, [ok(T0 + 500), ok(T0 + 18_000)]]])
    const repeats = 'a repeat only with the same webhook-id, only for an id in flight at a crash or freeze'
    assert.ok(!failed(evidence({ requests: twice, crashTimes: [T0 + 600] })).includes(repeats))
    assert.ok(failed(evidence({ requests: twice, crashTimes: [T0 - 60_000] })).includes(repeats))
  })

  it('a repeat with another webhook-id fails even after a crash', () => {
    const twice = new Map([[1, [ok(T0 + 500), { ...ok(T0 + 18_000), webhookId: 'other' }]]])
    assert.ok(failed(evidence({ requests: twice, faults: [kill(T0 + 600)] })).includes('a repeat only with the same webhook-id, only for an id in flight at a crash or freeze'))
  })

  it('a 2xx the service recorded as no answer in time (the origin stalled): its retry and its dead letter pass; without that record they fail', () => {
    const timedOut = { at: '', status_code: null, error: 'timed out after 2000 ms' }
    const twice = new Map([[1, [ok(T0 + 500), ok(T0 + 18_000)]]])
    const heardTwice = { done: true, status: 'delivered', attempts: [{ at: '', status_code: 200, error: null }, { at: '', status_code: 200, error: null }] }
    assert.deepEqual(failed(evidence({ requests: twice, redis: new Map([[1, { done: true, status: 'delivered', attempts: [timedOut, { at: '', status_code: 200, error: null }] }]]) })), [])
    assert.deepEqual(failed(evidence({ requests: twice, redis: new Map([[1, heardTwice]]) })), ['a repeat only with the same webhook-id, only for an id in flight at a crash or freeze'])

    const letters = new Map([[1, [{ code: 'DELIVERY_TIMEOUT', reason: 'x', attempts: 4, lastError: 'x', failedAt: '' }]]])
    const givenUp = { requests: new Map([[1, [ok(T0 + 500)]]]), letters, outcomes: new Map([[1, ['failed']]]) }
    assert.deepEqual(failed(evidence({ ...givenUp, redis: new Map([[1, { done: true, status: 'failed', attempts: [timedOut] }]]) })), [])
    assert.ok(failed(evidence({ ...givenUp, redis: new Map([[1, { done: true, status: 'failed', attempts: [] }]]) })).includes('every id delivered or dead-lettered with the reason its origin implies, never both'))
  })

  it('a dead letter whose code the origin does not imply fails (410 must be DELIVERY_GONE)', () => {
    const letter = (code: string) => new Map([[1, [{ code, reason: 'x', attempts: 1, lastError: 'x', failedAt: '' }]]])
    const gone = { sent: new Map([[1, { origin: 1, producedAt: T0, acked: true, partition: 0 }]]), outcomes: new Map([[1, ['failed']]]), redis: new Map([[1, { done: true, status: 'failed', attempts: [] }]]) }
    assert.deepEqual(failed(evidence({ ...gone, letters: letter('DELIVERY_GONE') })), [])
    assert.deepEqual(failed(evidence({ ...gone, letters: letter('DELIVERY_TIMEOUT') })), ['every id delivered or dead-lettered with the reason its origin implies, never both'])
  })

  it('a send after a freeze longer than a claim, for an id delivered before the wake-up, fails', () => {
    const freeze: Fault = { kind: 'replica-freeze', parts: ['replica-freeze'], text: [], startedAt: T0 + 1000, endedAt: T0 + 41_000, freezes: [{ stoppedAt: T0 + 1000, contAt: T0 + 41_000 }], crashAt: [], recoveredAt: T0 + 42_000 }
    const requests = new Map([[1, [ok(T0 + 500), { ...ok(T0 + 42_000), status: 503 }]]])
    assert.deepEqual(failed(evidence({ requests, faults: [freeze] })), ['no send started after a freeze for a claim that expired during it'])
    // when the late request was built (its webhook-timestamp) tells which check it got past: here ~41 s after the SIGSTOP (whole seconds)
    const check = checkAll(evidence({ requests, faults: [freeze] })).checks.find((c) => c.name === 'no send started after a freeze for a claim that expired during it')
    assert.match(check?.detail ?? '', /sent again 1000 ms after \(signed 4[01] s from the SIGSTOP\)/)
    // the first 2xx never reached the service (its history: no answer in time): the send after the wake-up is its retry
    const timedOut = { at: '', status_code: null, error: 'no answer within 2000 ms' }
    const retried = new Map([[1, [ok(T0 + 500), ok(T0 + 42_000)]]])
    const redis = new Map([[1, { done: true, status: 'delivered', attempts: [timedOut, { at: '', status_code: 200, error: null }] }]])
    assert.ok(!failed(evidence({ requests: retried, redis, faults: [freeze] })).includes('no send started after a freeze for a claim that expired during it'))
  })

  it('RSS: a peak after a fault that stays until the end passes on its floor; a floor that climbs fails', () => {
    const life = (kib: (i: number) => number) => ({ name: 'replica#1', pid: 1, logFile: '', startedAt: T0, readyAt: T0, rss: Array.from({ length: 120 }, (_, i): [number, number] => [T0 + 60_000 + i * 5000, kib(i)]), heap: Array.from({ length: 120 }, (_, i): [number, number] => [T0 + 60_000 + i * 5000, 102_400]) })
    const rssCheck = 'each replica’s RSS grows < 10 % over the second half of its life (floor of its first 2 minutes against its last)'
    const base = { requests: new Map([[1, [ok(T0 + 500)]]]) }
    assert.deepEqual(failed(evidence({ ...base, lives: [life((i) => (i % 4 === 0 ? 200_000 : i > 60 ? 300_000 : 220_000))] })), [])
    assert.deepEqual(failed(evidence({ ...base, lives: [life((i) => 200_000 + i * 1000)] })), [rssCheck])
    // the heap's floors are shown beside the RSS's
    assert.match(checkAll(evidence({ ...base, lives: [life(() => 200_000)] })).checks.find((c) => c.name === rssCheck)?.detail ?? '', /replica#1 195→195 MiB \(heap used 100→100\)/)
    // settling toward its peers in the first half of its life, flat after: passes
    assert.deepEqual(failed(evidence({ ...base, lives: [life((i) => (i < 50 ? 200_000 + i * 3000 : 350_000))] })), [])
  })

  it('lag not back under the limit within the time after a fault fails', () => {
    const slow = { ...kill(T0), recoveredAt: T0 + 5000 + 61_000 }
    assert.deepEqual(failed(evidence({ requests: new Map([[1, [ok(T0 + 500)]]]), faults: [slow] })), ['consumer lag back under 1000 within 60 s after each fault'])
  })

  // Run 13: a broker killed, and 23 s after it came back (the lag still up) a replica frozen for
  // 56 s: the lag was under the limit 33 s after the freeze, 112 s after the broker's return.
  it('a fault that begins while the lag from the one before is still up is judged with it: the lag must be back within the time after the later one', () => {
    const requests = new Map([[1, [ok(T0 + 500)]]])
    const first = { ...kill(T0), recoveredAt: T0 + 5000 + 112_000 }
    const during = { ...kill(T0 + 5000 + 23_000), endedAt: T0 + 5000 + 23_000 + 56_000, recoveredAt: T0 + 5000 + 112_000 }
    const lagCheck = (faults: Fault[]) => checkAll(evidence({ requests, faults })).checks.find((c) => c.name.startsWith('consumer lag'))
    assert.equal(lagCheck([first, during])?.ok, true)
    assert.match(lagCheck([first, during])?.detail ?? '', /1 judged with a fault that began during its recovery/)
    // the later fault slow as well: failed, named
    assert.equal(lagCheck([first, { ...during, recoveredAt: during.endedAt + 61_000 }])?.ok, false)
    // the next fault began only after the time to recover had run out: the first one failed
    const late = { ...kill(T0 + 5000 + 61_000), recoveredAt: T0 + 5000 + 112_000 }
    assert.match(lagCheck([first, late])?.detail ?? '', /too slow: replica-kill9$/)
    assert.equal(lagCheck([first, late])?.ok, false)
  })
})
