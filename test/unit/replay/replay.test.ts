import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { DeadLetter } from '../../../src/notifications/records.ts'
import type { StoredDeadLetter } from '../../../src/replay/dead-letters.ts'
import { planReplay, replayEnvelope } from '../../../src/replay/replay.ts'

const source = { topic: 'sending', partition: 0, offset: '5', key: 'new_sending', timestamp: null }

function given(processingId: number): DeadLetter {
  return {
    reason: 'delivery given up after 10 attempt(s): callback answered 503',
    code: 'DELIVERY_HTTP_STATUS',
    source,
    original: '{"success":true}',
    original_truncated: false,
    processing_id: processingId,
    notification: { kind: 'result', processing_id: processingId, webhook_id: `processing_${processingId}`, callback_url: 'https://c.example/h', body: '{"a":1}', is_error: false, error_code: null },
    attempts: 10,
    last_error: 'callback answered 503',
    last_status_code: 503,
    failed_at: '2026-11-27T12:00:00.000Z',
  }
}

const poison: DeadLetter = { reason: 'not valid JSON', code: 'MESSAGE_NOT_JSON', source, original: '{x', original_truncated: false, processing_id: null, attempts: 0, last_error: null, last_status_code: null, failed_at: '2026-11-27T12:00:00.000Z' }

const stored = (letter: DeadLetter | undefined, offset: number): StoredDeadLetter => ({ partition: 0, offset: String(offset), letter })
const letters = [stored(given(1), 0), stored(poison, 1), stored(given(2), 2), stored(undefined, 3)]

describe('planReplay', () => {
  it('replays every given-up notification with --all, poison only when asked', () => {
    assert.deepEqual(planReplay(letters, { processingIds: new Set(), includePoison: false }).map((a) => a.kind), ['notification', 'notification'])
    assert.deepEqual(planReplay(letters, { processingIds: new Set(), includePoison: true }).map((a) => a.kind), ['notification', 'poison', 'notification'])
  })

  it('never re-produces a poison record of which only the start was kept', () => {
    const cut = stored({ ...poison, original_truncated: true }, 9)
    assert.deepEqual(planReplay([cut], { processingIds: new Set(), includePoison: true }), [])
  })

  it('selects by processing id', () => {
    const actions = planReplay(letters, { processingIds: new Set([2]), includePoison: true })
    assert.equal(actions.length, 1)
    assert.equal(actions[0]?.stored.offset, '2')
  })
})

describe('replayEnvelope', () => {
  it('sends the same payload again, due now, with a fresh attempt count', () => {
    const [action] = planReplay([stored(given(9), 0)], { processingIds: new Set(), includePoison: false })
    assert.ok(action?.kind === 'notification')
    const envelope = replayEnvelope(action, 1_800_000_000_000)
    assert.equal(envelope.attempts, 0)
    assert.equal(envelope.due_at, 1_800_000_000_000)
    assert.deepEqual(envelope.notification, { kind: 'result', processing_id: 9, webhook_id: 'processing_9', callback_url: 'https://c.example/h', body: '{"a":1}', is_error: false, error_code: null })
    assert.deepEqual(envelope.source, source)
  })
})
