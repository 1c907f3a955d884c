import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { NOT_OWNED, OffsetTracker, TRACKED_ALREADY, partitionKey, type CompletionToken } from '../../../src/kafka/offset-tracker.ts'

/** Tracks a message of a partition the tracker takes (owned, or no assignment told yet). */
function track<T>(tracker: OffsetTracker<T>, topic: string, partition: number, offset: bigint, handle: T): CompletionToken {
  const token = tracker.track(topic, partition, offset, handle)
  assert.ok(typeof token === 'object', `${topic}:${partition} tracked`)
  return token
}

describe('OffsetTracker', () => {
  it('commits only the contiguous finished prefix on out-of-order completion', () => {
    const tracker = new OffsetTracker<string>()
    const t0 = track(tracker, 't', 0, 0n, 'm0')
    const t1 = track(tracker, 't', 0, 1n, 'm1')
    const t2 = track(tracker, 't', 0, 2n, 'm2')

    tracker.complete(t2)
    assert.deepEqual(tracker.takeCommittable(), [])
    tracker.complete(t1)
    assert.deepEqual(tracker.takeCommittable(), [])
    tracker.complete(t0)
    assert.deepEqual(tracker.takeCommittable(), ['m2'])
  })

  it('stops at the first unfinished offset', () => {
    const tracker = new OffsetTracker<string>()
    const tokens = [10n, 11n, 12n, 13n].map((offset) => track(tracker, 't', 0, offset, `m${offset}`))
    tracker.complete(tokens[0]!)
    tracker.complete(tokens[1]!)
    tracker.complete(tokens[3]!)
    assert.deepEqual(tracker.takeCommittable(), ['m11'])
    tracker.complete(tokens[2]!)
    assert.deepEqual(tracker.takeCommittable(), ['m13'])
  })

  it('returns each advance once', () => {
    const tracker = new OffsetTracker<string>()
    tracker.complete(track(tracker, 't', 0, 0n, 'm0'))
    assert.deepEqual(tracker.takeCommittable(), ['m0'])
    assert.deepEqual(tracker.takeCommittable(), [])
    tracker.complete(track(tracker, 't', 0, 1n, 'm1'))
    assert.deepEqual(tracker.takeCommittable(), ['m1'])
    assert.deepEqual(tracker.takeCommittable(), [])
  })

  it('keeps partitions independent, one handle each', () => {
    const tracker = new OffsetTracker<string>()
    const a0 = track(tracker, 't', 0, 0n, 'a0')
    const a1 = track(tracker, 't', 0, 1n, 'a1')
    const b0 = track(tracker, 't', 1, 0n, 'b0')
    const c0 = track(tracker, 'u', 0, 5n, 'c0')
    tracker.complete(a1)
    tracker.complete(b0)
    tracker.complete(c0)
    assert.deepEqual(tracker.takeCommittable().sort(), ['b0', 'c0'])
    tracker.complete(a0)
    assert.deepEqual(tracker.takeCommittable(), ['a1'])
  })

  it('ignores a second completion of the same token', () => {
    const tracker = new OffsetTracker<string>()
    const t0 = track(tracker, 't', 0, 0n, 'm0')
    tracker.complete(t0)
    tracker.takeCommittable()
    tracker.complete(t0)
    assert.deepEqual(tracker.takeCommittable(), [])
    tracker.complete(track(tracker, 't', 0, 1n, 'm1'))
    assert.deepEqual(tracker.takeCommittable(), ['m1'], 'the window goes on from where it was')
  })

  // The soak (issue 21, run 14): 43 retries waiting minutes to be due were committed past. A
  // stream that hands on again records above them (a fetch answered twice) must not start the
  // window over there.
  it('does not track again a message its stream hands on again; the commit point stays below the records still at work', () => {
    const tracker = new OffsetTracker<string>()
    const waiting = track(tracker, 't', 0, 5n, 'waiting')
    for (const offset of [6n, 7n, 8n]) tracker.complete(track(tracker, 't', 0, offset, `m${offset}`))
    assert.equal(tracker.track('t', 0, 7n, 'again7'), TRACKED_ALREADY)
    assert.equal(tracker.track('t', 0, 8n, 'again8'), TRACKED_ALREADY, 'an offset equal to the last tracked too')
    assert.equal(tracker.track('t', 0, 2n, 'below the window'), TRACKED_ALREADY)
    tracker.complete(track(tracker, 't', 0, 9n, 'm9'))
    assert.deepEqual(tracker.takeCommittable(), [], 'nothing past offset 5 while it is at work')
    tracker.complete(waiting)
    assert.deepEqual(tracker.takeCommittable(), ['m9'])
  })

  it('starts a new window after clear (a new stream); old tokens no longer count', () => {
    const tracker = new OffsetTracker<string>()
    const old5 = track(tracker, 't', 0, 5n, 'old5')
    const old6 = track(tracker, 't', 0, 6n, 'old6')
    tracker.clear()
    const new5 = track(tracker, 't', 0, 5n, 'new5')
    tracker.complete(old5)
    tracker.complete(old6)
    assert.deepEqual(tracker.takeCommittable(), [])
    tracker.complete(new5)
    assert.deepEqual(tracker.takeCommittable(), ['new5'])
  })

  it('drops revoked partitions with retainOnly', () => {
    const tracker = new OffsetTracker<string>()
    const kept = track(tracker, 't', 0, 0n, 'kept')
    const revoked = track(tracker, 't', 1, 0n, 'revoked')
    track(tracker, 't', 1, 1n, 'revoked1')
    tracker.retainOnly(new Set([partitionKey('t', 0)]))
    tracker.complete(revoked)
    tracker.complete(kept)
    assert.deepEqual(tracker.takeCommittable(), ['kept'])
    tracker.retainOnly(new Set([partitionKey('t', 0), partitionKey('t', 1)]))
    tracker.complete(track(tracker, 't', 1, 2n, 'again2'))
    assert.deepEqual(tracker.takeCommittable(), ['again2'], 'a partition given back starts a window of its own (the loop holds it back for old records still at work: consumer-loop.test.ts)')
  })

  // The soak (issue 21): a replica handled records of a partition it had lost that were still in
  // its stream's buffer, and committed past one the new owner had at work; that owner was then
  // stopped, and the record was never handled again (911 retries stranded in 30 minutes).
  it('does not track a message of a partition it does not own, received after the rebalance that took it away', () => {
    const tracker = new OffsetTracker<string>()
    track(tracker, 't', 1, 0n, 'before')
    tracker.retainOnly(new Set([partitionKey('t', 0)]))
    assert.equal(tracker.track('t', 1, 5n, 'buffered'), NOT_OWNED)
    assert.equal(tracker.track('u', 0, 0n, 'another topic'), NOT_OWNED)
    assert.deepEqual(tracker.takeCommittable(), [])
    tracker.clear()
    assert.equal(tracker.track('t', 1, 6n, 'after a new stream'), NOT_OWNED, 'the assignment outlives the windows')
    assert.equal(typeof tracker.track('t', 0, 0n, 'owned'), 'object')
  })

  it('tracks every partition until told an assignment', () => {
    const tracker = new OffsetTracker<string>()
    assert.equal(typeof tracker.track('t', 3, 0n, 'm'), 'object')
    assert.equal(typeof tracker.track('u', 0, 0n, 'm'), 'object')
  })

  it('retainOnly matches topic and partition both', () => {
    const tracker = new OffsetTracker<string>()
    const tokens = [track(tracker, 't', 0, 0n, 't0'), track(tracker, 't', 1, 0n, 't1'), track(tracker, 'u', 0, 0n, 'u0'), track(tracker, 'u', 1, 0n, 'u1')]
    tracker.retainOnly(new Set([partitionKey('t', 1), partitionKey('u', 0)]))
    for (const token of tokens) tracker.complete(token)
    assert.deepEqual(tracker.takeCommittable().sort(), ['t1', 'u0'])
  })

  it('drops a pending committable handle of a revoked partition', () => {
    const tracker = new OffsetTracker<string>()
    tracker.complete(track(tracker, 't', 1, 0n, 'revoked'))
    tracker.retainOnly(new Set())
    assert.deepEqual(tracker.takeCommittable(), [])
  })

  it('holds back a finished message behind an unfinished one, each partition apart', () => {
    const tracker = new OffsetTracker<string>()
    const a = track(tracker, 't', 0, 0n, 'a')
    const b = track(tracker, 't', 0, 1n, 'b')
    const c = track(tracker, 't', 2, 7n, 'c')
    tracker.complete(b)
    assert.deepEqual(tracker.takeCommittable(), [], 'a finished message behind an unfinished one is not committable yet')
    tracker.complete(a)
    assert.deepEqual(tracker.takeCommittable(), ['b'])
    tracker.complete(c)
    assert.deepEqual(tracker.takeCommittable(), ['c'])
  })

  it('forgets everything on clear', () => {
    const tracker = new OffsetTracker<string>()
    const token = track(tracker, 't', 0, 0n, 'm')
    tracker.clear()
    tracker.complete(token)
    assert.deepEqual(tracker.takeCommittable(), [])
    tracker.complete(track(tracker, 't', 0, 1n, 'next'))
    assert.deepEqual(tracker.takeCommittable(), ['next'], 'nothing of the old window is waited for')
  })

  it('handles long windows (compaction) without losing the commit point', () => {
    const tracker = new OffsetTracker<number>()
    const tokens = Array.from({ length: 3000 }, (_, i) => track(tracker, 't', 0, BigInt(i), i))
    for (const token of tokens.slice(0, 2500)) tracker.complete(token)
    assert.deepEqual(tracker.takeCommittable(), [2499])
    for (const token of tokens.slice(2500).reverse()) tracker.complete(token)
    assert.deepEqual(tracker.takeCommittable(), [2999])
    tracker.complete(track(tracker, 't', 0, 3000n, 3000))
    assert.deepEqual(tracker.takeCommittable(), [3000], 'the window goes on after compaction')
  })
})

describe('partitionKey', () => {
  it('joins topic and partition', () => {
    assert.equal(partitionKey('sending', 3), 'sending:3')
  })
})
