// A notification's status as kept in Redis: its history inside, the old list's entries read first.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { MAX_ATTEMPTS_KEPT, parseStatus, statusWithHistory, storedStatusJson, type AttemptRecord, type NotificationStatus } from '../../../src/store/status-json.ts'

const status: NotificationStatus = { status: 'delivered', attempts: 1, last_status_code: 200, last_error: null, next_attempt_at: null, updated_at: '2026-12-05T06:00:00.000Z', deferrals: 0 }
const attempt = (n: number): AttemptRecord => ({ at: `2026-12-05T06:00:${String(n).padStart(2, '0')}.000Z`, status_code: 503, error: 'callback answered 503', duration_ms: n })

describe('status JSON', () => {
  test('a settlement writes its status with its own attempt as the history, or none', () => {
    assert.deepEqual(JSON.parse(storedStatusJson(status, attempt(1))), { ...status, history: [attempt(1)] })
    assert.deepEqual(JSON.parse(storedStatusJson(status, undefined)), { ...status, history: [] })
  })

  test('read back: the status without its history, the history beside it', () => {
    assert.deepEqual(statusWithHistory(storedStatusJson(status, attempt(1)), []), { status, history: [attempt(1)] })
    assert.deepEqual(parseStatus(storedStatusJson(status, attempt(1))), status)
  })

  test('the old list first, then the status\'s own; the last ones kept', () => {
    const listed = Array.from({ length: MAX_ATTEMPTS_KEPT }, (_, i) => JSON.stringify(attempt(i + 1)))
    const stored = JSON.stringify({ ...status, history: [attempt(30), attempt(31)] })
    const { history } = statusWithHistory(stored, listed)
    assert.equal(history.length, MAX_ATTEMPTS_KEPT)
    assert.deepEqual(history.slice(-3), [attempt(MAX_ATTEMPTS_KEPT), attempt(30), attempt(31)])
  })

  test('a status written before 2026-12-05 (no history inside) reads with the list\'s', () => {
    assert.deepEqual(statusWithHistory(JSON.stringify(status), [JSON.stringify(attempt(1))]), { status, history: [attempt(1)] })
  })

  test('not ours: undefined', () => {
    assert.equal(parseStatus('not json'), undefined)
    assert.equal(parseStatus(JSON.stringify({ written: 'by someone else' })), undefined)
    assert.equal(parseStatus(null), undefined)
  })
})
