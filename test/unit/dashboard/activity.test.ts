import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { ActivityLog, type ActivityEvent, type ActivityResult } from '../../../src/dashboard/activity.ts'

const T0 = 1_800_000_000_000

function event(at: number, result: ActivityResult, processingId = 1): ActivityEvent {
  return { at, processingId, kind: 'result', result, attempts: 1, statusCode: result === 'delivered' ? 200 : 503, error: null, durationMs: 5, callbackOrigin: 'http://a' }
}

describe('ActivityLog', () => {
  test('counts delivered and failed attempts per complete second over the window', () => {
    const log = new ActivityLog({ windowSeconds: 10 })
    log.note(event(T0 + 100, 'delivered'))
    log.note(event(T0 + 900, 'delivered'))
    log.note(event(T0 + 1500, 'retrying'))
    log.note(event(T0 + 1600, 'failed'))
    log.note(event(T0 + 2100, 'delivered'))
    const series = log.series(T0 + 2500)
    assert.equal(series.t.length, 9)
    assert.equal(series.t.at(-1), T0 + 1000)
    assert.deepEqual(series.delivered.slice(-2), [2, 0])
    assert.deepEqual(series.failed.slice(-2), [0, 2])
    // The current second (T0+2s) is not complete yet: not shown.
    assert.equal(series.delivered.reduce((a, b) => a + b, 0), 2)
    assert.deepEqual(log.totals, { delivered: 3, failed: 2 })
  })

  test('seconds older than the window are forgotten, and a reused slot starts from zero', () => {
    const log = new ActivityLog({ windowSeconds: 5 })
    log.note(event(T0, 'delivered'))
    log.note(event(T0 + 5000, 'failed')) // same slot, five seconds later
    const series = log.series(T0 + 6000)
    assert.deepEqual(series.delivered, [0, 0, 0, 0])
    assert.deepEqual(series.failed, [0, 0, 0, 1])
    assert.equal(series.t[0], T0 + 2000)
  })

  test('keeps the latest events only, newest first', () => {
    const log = new ActivityLog({ recentSize: 3 })
    for (let id = 1; id <= 5; id++) log.note(event(T0 + id, 'delivered', id))
    assert.deepEqual(log.recent().map((e) => e.processingId), [5, 4, 3])
    assert.deepEqual(log.recent(2).map((e) => e.processingId), [5, 4])
    assert.deepEqual(new ActivityLog().recent(), [])
  })
})
