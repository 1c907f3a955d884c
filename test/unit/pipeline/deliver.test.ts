// Every decision branch of deliver(), with a scripted transport, an in-memory store,
// record writer and origin controls (fakes.ts), and the real origin gate. What did not
// happen is read from the fakes' logs (no send, no claim), never from waiting.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ANSWERS } from '../../../src/delivery/answers.ts'
import { ErrorCodes, Interrupted } from '../../../src/errors.ts'
import { deliver } from '../../../src/pipeline/deliver.ts'
import { DESTINATION, SCHEDULE_MS, TIMING, failed, fixture, incoming } from './fakes.ts'

describe('deliver: an attempt', () => {
  it('delivered: claim, send, done marker with the attempt, then the outcome; noted for the dashboard', async () => {
    const { ctx, log } = fixture()
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'send', 'settlement', 'outcome'])
    const { settlement } = log.first('settlement')
    assert.equal(settlement.done, true)
    assert.equal(settlement.token, 'token-1')
    assert.equal(settlement.status.status, 'delivered')
    assert.equal(settlement.attempt?.status_code, 200)
    assert.equal(log.of('outcome')[0]?.outcome.status, 'delivered')
    assert.equal(ctx.activity.recent()[0]?.callbackOrigin, DESTINATION)
  })

  it('a failed attempt that a retry can help: a retry record in the first tier, then the claim released with status retrying', async () => {
    const { ctx, log, transport } = fixture()
    transport.answers = [failed(500)]
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'send', 'retry', 'settlement'])
    const { envelope, topic } = log.first('retry')
    assert.equal(topic, ctx.schedule.tiers[0]?.topic)
    assert.equal(envelope.attempts, 1)
    assert.equal(envelope.last_status_code, 500)
    const { settlement } = log.first('settlement')
    assert.equal(settlement.done, false)
    assert.equal(settlement.status.status, 'retrying')
  })

  it('a final answer (410): dead letter held, the done marker, the dead letter written, then the outcome "failed"; no retry', async () => {
    const { ctx, log, transport } = fixture()
    transport.answers = [failed(410)]
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'send', 'hold-letter', 'settlement', 'dead-letter', 'drop-letter', 'outcome'])
    assert.equal(log.of('dead-letter')[0]?.letter.code, ErrorCodes.DELIVERY_GONE)
    assert.equal(log.of('settlement')[0]?.settlement.done, true)
    assert.equal(log.of('outcome')[0]?.outcome.status, 'failed')
  })

  it('the schedule exhausted: given up after its last attempt', async () => {
    const { ctx, log, transport } = fixture()
    transport.answers = [failed(503)]
    await deliver(ctx, incoming(undefined, { attempts: SCHEDULE_MS.length, deferrals: 0, firstAttemptAt: Date.now() - 10_000 }))
    assert.deepEqual(log.kinds(), ['claim', 'send', 'hold-letter', 'settlement', 'dead-letter', 'drop-letter', 'outcome'])
    assert.equal(log.of('dead-letter')[0]?.letter.attempts, SCHEDULE_MS.length + 1)
  })

  it('an answer whose row holds the origin (429 with Retry-After): the hold is shared', async () => {
    const { ctx, log, transport } = fixture()
    transport.answers = [failed(429, 7)]
    await deliver(ctx, incoming())
    assert.equal(ANSWERS.tooManyRequests.retryAfter, 'holds-origin')
    assert.deepEqual(log.of('hold'), [{ kind: 'hold', origin: DESTINATION, ms: 7000 }])
  })

  it('an answer whose row only delays the retry (500 with Retry-After): no hold', async () => {
    const { ctx, log, transport } = fixture()
    transport.answers = [failed(500, 7)]
    await deliver(ctx, incoming())
    assert.deepEqual(log.of('hold'), [])
    assert.equal(log.of('retry').length, 1)
  })
})

describe('deliver: refused before an attempt', () => {
  it('circuit open: deferred to a retry tier (a deferral, not an attempt) under the claim, which is given back; nothing sent', async () => {
    const { ctx, log, gate } = fixture()
    const opened = gate.acquire(DESTINATION, Date.now())
    assert.ok(opened.ok)
    gate.release(opened.ticket, ANSWERS.serverError, Date.now(), 5)
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'retry', 'settlement'])
    const { settlement } = log.first('settlement')
    assert.deepEqual([settlement.done, settlement.token, settlement.status.status], [false, 'token-1', 'retrying'])
    const { envelope } = log.first('retry')
    assert.equal(envelope.last_error_code, ErrorCodes.CALLBACK_UNAVAILABLE)
    assert.equal(envelope.attempts, 0)
    assert.equal(envelope.deferrals, 1)
  })

  it('circuit open longer than the auto-pause: the origin is paused and the notification parked', async () => {
    const { ctx, log, gate, controls } = fixture()
    const opened = gate.acquire(DESTINATION, Date.now())
    assert.ok(opened.ok)
    gate.release(opened.ticket, ANSWERS.timeout, Date.now(), 5)
    controls.pauseWhenOpen = true
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['park'])
    assert.equal(log.of('park')[0]?.record.last_error_code, ErrorCodes.CALLBACK_PAUSED)
  })

  it('saturated (at its limit, nothing answered): deferred without a send', async () => {
    const { ctx, log, gate } = fixture()
    assert.ok(gate.acquire(DESTINATION, Date.now() - 10).ok, 'the one slot taken, unanswered')
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'retry', 'settlement'])
    assert.match(log.of('retry')[0]?.envelope.last_error ?? '', /saturated/)
  })

  it('held by Retry-After: deferred, due no earlier than the hold, in the tier that covers it', async () => {
    const { ctx, log, controls } = fixture()
    const until = Date.now() + 4000
    controls.standingIs = { kind: 'held', until }
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'retry', 'settlement'])
    const [retry] = log.of('retry')
    assert.ok((retry?.envelope.due_at ?? 0) >= until)
    assert.equal(retry?.topic, ctx.schedule.tiers[1]?.topic)
  })

  it('held for longer than the longest tier: due after that tier\'s delay (looked at again then), not at the hold\'s end', async () => {
    const { ctx, log, controls } = fixture()
    const before = Date.now()
    controls.standingIs = { kind: 'held', until: before + 3_600_000 }
    await deliver(ctx, incoming())
    const dueAt = log.of('retry')[0]?.envelope.due_at ?? 0
    assert.ok(dueAt >= before + 5000 && dueAt <= Date.now() + 5000, `due ${dueAt - before} ms after`)
  })

  // A record read twice (a rebalance, a crash before its commit) after one copy's attempt
  // scheduled a retry: the other made an attempt and a retry record of its own at every step
  // of the schedule (twins, issue 21).
  it('superseded (another copy attempted since this one was written): ends with nothing sent, scheduled or published', async () => {
    const { ctx, log, store } = fixture()
    store.claims = [{ result: { status: 'superseded' } }]
    await deliver(ctx, incoming(undefined, { attempts: 2, deferrals: 1, firstAttemptAt: Date.now() - 10_000 }))
    assert.deepEqual(log.kinds(), ['claim'])
    const { known } = log.first('claim')
    assert.deepEqual([known.attempts, known.deferrals], [2, 1], 'the claim names the history its copy knows of')
  })

  it('refused, and superseded when it claims to defer: no deferral on top of the later copy', async () => {
    const { ctx, log, controls, store } = fixture()
    controls.standingIs = { kind: 'held', until: Date.now() + 60_000 }
    store.claims = [{ result: { status: 'superseded' } }]
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim'])
  })

  // A copy read again (a consumer stream replaced, a rebalance) while another copy was
  // delivered: the soak saw it dead-lettered CALLBACK_UNAVAILABLE on top of its 2xx (issue 21).
  it('held, but another copy delivered it meanwhile: skipped, its outcome published again; neither deferred nor dead-lettered', async () => {
    const { ctx, log, controls, store } = fixture()
    controls.standingIs = { kind: 'held', until: Date.now() + 60_000 }
    store.claims = [{ result: { status: 'done' } }]
    store.done = { status: 'delivered', attempts: 1, last_status_code: 200, last_error: null, next_attempt_at: null, updated_at: new Date().toISOString() }
    await deliver(ctx, incoming(undefined, { attempts: 0, deferrals: SCHEDULE_MS.length, firstAttemptAt: Date.now() - 10_000 }))
    assert.deepEqual(log.kinds(), ['claim', 'outcome'])
    assert.equal(log.first('outcome').outcome.status, 'delivered')
  })

  it('refused for the whole schedule: given up under the claim (dead letter held, the done marker with its token, the dead letter)', async () => {
    const { ctx, log, controls } = fixture()
    controls.standingIs = { kind: 'held', until: Date.now() + 60_000 }
    await deliver(ctx, incoming(undefined, { attempts: 0, deferrals: SCHEDULE_MS.length, firstAttemptAt: Date.now() - 10_000 }))
    assert.deepEqual(log.kinds(), ['claim', 'hold-letter', 'settlement', 'dead-letter', 'drop-letter', 'outcome'])
    assert.equal(log.first('dead-letter').letter.code, ErrorCodes.CALLBACK_UNAVAILABLE)
    const { settlement } = log.first('settlement')
    assert.deepEqual([settlement.done, settlement.token, settlement.status.status], [true, 'token-1', 'failed'])
  })

  it('refused while another copy is being sent: waits and looks again before it decides', async () => {
    const { ctx, log, controls, store } = fixture()
    controls.standingIs = { kind: 'held', until: Date.now() + 60_000 }
    store.claims = [{ result: { status: 'busy', retryInMs: 5 } }, { result: { status: 'done' } }]
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'claim'])
  })

  it('paused: parked with its history, nothing claimed or sent', async () => {
    const { ctx, log, controls } = fixture()
    controls.standingIs = { kind: 'paused', pause: { by: 'operator', since: new Date().toISOString(), reason: 'maintenance' } }
    await deliver(ctx, incoming(undefined, { attempts: 1, deferrals: 2, firstAttemptAt: 1 }))
    assert.deepEqual(log.kinds(), ['park'])
    const record = log.of('park')[0]?.record
    assert.equal(record?.attempts, 1)
    assert.equal(record?.deferrals, 2)
  })
})

describe('deliver: rate-limit slots', () => {
  it('a near slot is waited for here, then sent', async () => {
    const { ctx, log, controls } = fixture()
    controls.perSecond = 10
    controls.slotsInMs = [30]
    const started = Date.now()
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['reserve', 'claim', 'send', 'settlement', 'outcome'])
    assert.ok((log.of('send')[0]?.at ?? 0) - started >= 25, 'sent at its slot')
  })

  it('a far slot: deferred to the tier due then, with the slot kept (reserved_slot), neither an attempt nor a deferral', async () => {
    const { ctx, log, controls } = fixture()
    controls.perSecond = 1
    controls.slotsInMs = [4000]
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['reserve', 'retry'])
    const { envelope, topic } = log.first('retry')
    assert.equal(envelope.reserved_slot, true)
    assert.equal(envelope.deferrals, 0)
    assert.equal(topic, ctx.schedule.tiers[1]?.topic, 'the first tier at least 4 s long')
  })

  it('a reserved slot (from its tier) is used without asking for another', async () => {
    const { ctx, log, controls } = fixture()
    controls.perSecond = 1
    await deliver(ctx, incoming(undefined, undefined, { reservedSlotAt: Date.now() }))
    assert.deepEqual(log.kinds(), ['claim', 'send', 'settlement', 'outcome'])
  })

  it('a slot missed during a slow claim: taken again; far now, so the claim is given back and it is deferred', async () => {
    const { ctx, log, controls, store, gate } = fixture()
    controls.perSecond = 1
    controls.slotsInMs = [4000]
    store.claims = [{ result: { status: 'claimed', token: 'slow' }, delayMs: 150 }]
    await deliver(ctx, incoming(undefined, undefined, { reservedSlotAt: Date.now() }))
    assert.deepEqual(log.kinds(), ['claim', 'reserve', 'retry', 'settlement'])
    assert.equal(log.of('retry')[0]?.envelope.reserved_slot, true)
    const { settlement } = log.first('settlement')
    assert.deepEqual([settlement.done, settlement.token, settlement.status.status], [false, 'slow', 'retrying'])
    assert.ok(gate.acquire(DESTINATION, Date.now()).ok, 'the gate ticket was given back')
  })
})

describe('deliver: the claim', () => {
  it('already done: not sent; its outcome published again from the stored status', async () => {
    const { ctx, log, store } = fixture()
    store.claims = [{ result: { status: 'done' } }]
    store.done = { status: 'delivered', attempts: 1, last_status_code: 200, last_error: null, next_attempt_at: null, updated_at: new Date().toISOString() }
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'outcome'])
    assert.equal(log.of('outcome')[0]?.outcome.status, 'delivered')
  })

  it('another replica is sending: waits and looks again, then sends', async () => {
    const { ctx, log, store } = fixture()
    store.claims = [{ result: { status: 'busy', retryInMs: 5 } }]
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'claim', 'send', 'settlement', 'outcome'])
  })

  it('a claim older than its lease allows when the attempt would start (slow claim): not sent; claimed again, then sent on the fresh claim', async () => {
    // claimMs 1150, attemptMs 100, safety 1000: a claim may be at most ~50 ms old when sent.
    const { ctx, log, store, gate } = fixture({ timing: () => ({ claimMs: 1150, attemptMs: 100 }) })
    store.claims = [{ result: { status: 'claimed', token: 'stale' }, delayMs: 120 }, { result: { status: 'claimed', token: 'fresh' } }]
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'claim', 'send', 'settlement', 'outcome'])
    assert.equal(log.first('settlement').settlement.token, 'fresh')
    assert.ok(gate.acquire(DESTINATION, Date.now()).ok, 'the stale claim\'s gate ticket was given back')
  })

  it("a destination's own timeout: its claim holds that long plus the margin, and a claim that outlasts it is sent on", async () => {
    const timings = new Map([[DESTINATION, { attemptMs: 60_000, claimMs: 75_000 }]])
    const { ctx, log } = fixture({ timing: (destination) => timings.get(destination) ?? TIMING })
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'send', 'settlement', 'outcome'])
    assert.equal(log.first('claim').claimMs, 75_000)
  })

  it("the lease is judged by the destination's timeout at the attempt: a claim made for a short timeout is not sent on once the timeout grew (a reloaded file)", async () => {
    // Asked first when it is claimed (the short timeout), then by the lease check and ever after (the long one).
    let asked = 0
    const { ctx, log, store } = fixture({ timing: () => (asked++ === 0 ? { attemptMs: 100, claimMs: 1150 } : { attemptMs: 5000, claimMs: 20_000 }) })
    store.claims = [{ result: { status: 'claimed', token: 'short' } }, { result: { status: 'claimed', token: 'long' } }]
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'claim', 'send', 'settlement', 'outcome'])
    assert.deepEqual(log.steps.flatMap((step) => (step.kind === 'claim' ? [step.claimMs] : [])), [1150, 20_000])
    assert.equal(log.first('settlement').settlement.token, 'long')
  })

  it('a claim that expired before its attempt, and the notification done meanwhile by another replica: nothing sent, its outcome published again', async () => {
    const { ctx, log, store } = fixture({ timing: () => ({ claimMs: 1150, attemptMs: 100 }) })
    store.claims = [{ result: { status: 'claimed', token: 'stale' }, delayMs: 120 }, { result: { status: 'done' } }]
    store.done = { status: 'delivered', attempts: 1, last_status_code: 200, last_error: null, next_attempt_at: null, updated_at: new Date().toISOString() }
    await deliver(ctx, incoming())
    assert.deepEqual(log.kinds(), ['claim', 'claim', 'outcome'])
    assert.equal(log.first('outcome').outcome.status, 'delivered')
  })

  it('interrupted by shutdown while it waits for another replica: rejects with Interrupted, nothing sent or written', async () => {
    const { ctx, log, store } = fixture()
    store.claims = [{ result: { status: 'busy', retryInMs: 60_000 } }]
    const stop = new AbortController()
    const delivering = deliver(ctx, incoming(stop.signal))
    setImmediate(() => stop.abort())
    await assert.rejects(delivering, Interrupted)
    assert.deepEqual(log.kinds(), ['claim'])
  })

  it('interrupted while it waits for a near slot: rejects with Interrupted, nothing claimed', async () => {
    const { ctx, log, controls } = fixture()
    controls.perSecond = 1
    controls.slotsInMs = [900]
    const stop = new AbortController()
    const delivering = deliver(ctx, incoming(stop.signal))
    setImmediate(() => stop.abort())
    await assert.rejects(delivering, Interrupted)
    assert.deepEqual(log.kinds(), ['reserve'])
  })
})
