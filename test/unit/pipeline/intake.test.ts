// Every branch of intake: what each input or retry record becomes, with the fakes of
// fakes.ts. What did not happen is read from the fakes' log, never from waiting.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ErrorCodes } from '../../../src/errors.ts'
import type { InputRecord } from '../../../src/kafka/consumer-loop.ts'
import { OutsideWaits } from '../../../src/kafka/in-flight-limit.ts'
import { INPUT_TOPICS } from '../../../src/names.ts'

const [SENDING, AI_HANDLER] = INPUT_TOPICS
import { toStored } from '../../../src/notifications/records.ts'
import { inputProcessor, retryProcessor } from '../../../src/pipeline/intake.ts'
import { processingRequest, successResult } from '../../helpers/messages.ts'
import { CALLBACK_URL, PROVENANCE, fixture, notification } from './fakes.ts'

let offset = 0n
function record(topic: string, key: string | undefined, value: unknown): InputRecord {
  const bytes = value === undefined ? undefined : Buffer.from(typeof value === 'string' ? value : JSON.stringify(value))
  return { topic, partition: 0, offset: offset++, key, value: bytes, timestamp: BigInt(Date.now()), headers: new Map() }
}

async function run(processor: ReturnType<typeof inputProcessor>, input: InputRecord): Promise<void> {
  await processor.prepare(input).run(new AbortController().signal, new OutsideWaits())
}

describe('intake: input records', () => {
  it("another service's record (another key): skipped, nothing written", async () => {
    const { ctx, log } = fixture()
    await run(inputProcessor(ctx), record('sending', 'someone_else', successResult(1, CALLBACK_URL)))
    assert.deepEqual(log.kinds(), [])
  })

  it('poison (our key, not JSON): dead-lettered with its code and the record it came from', async () => {
    const { ctx, log } = fixture()
    await run(inputProcessor(ctx), record('sending', SENDING.key, '{not json'))
    assert.deepEqual(log.kinds(), ['dead-letter'])
    const { letter } = log.first('dead-letter')
    assert.equal(letter.code, ErrorCodes.MESSAGE_NOT_JSON)
    assert.equal(letter.original, '{not json')
  })

  it('a result: delivered to its callback_url, keyed by its processing_id', async () => {
    const { ctx, log } = fixture()
    const prepared = inputProcessor(ctx).prepare(record('sending', SENDING.key, successResult(41, CALLBACK_URL)))
    assert.equal(prepared.key, '41')
    await prepared.run(new AbortController().signal, new OutsideWaits())
    assert.deepEqual(log.kinds(), ['claim', 'send', 'settlement', 'outcome'])
    assert.equal(log.of('send')[0]?.notification.callbackUrl, CALLBACK_URL)
  })

  it('a request: recorded, and nothing sent without notifyOnAccepted', async () => {
    const { ctx, log } = fixture()
    await run(inputProcessor(ctx), record('AI_handler', AI_HANDLER.key, processingRequest(42, CALLBACK_URL)))
    assert.deepEqual(log.kinds(), ['request'])
    assert.equal(log.of('request')[0]?.request.callback_url, CALLBACK_URL)
  })

  it('a request with notifyOnAccepted: recorded, then the accepted notification delivered', async () => {
    const { ctx, log } = fixture({ notifyOnAccepted: true })
    await run(inputProcessor(ctx), record('AI_handler', AI_HANDLER.key, processingRequest(43, CALLBACK_URL)))
    assert.deepEqual(log.kinds(), ['request', 'claim', 'send', 'settlement'])
    assert.equal(log.of('send')[0]?.notification.kind, 'accepted')
  })

  it('a result without callback_url: sent where its recorded request said', async () => {
    const { ctx, log, store } = fixture()
    store.requests.set(44, { callback_url: 'http://recorded.example/cb', user_id: 2, resume_id: 3, requirements_id: 4 })
    await run(inputProcessor(ctx), record('sending', SENDING.key, successResult(44, undefined)))
    assert.equal(log.of('send')[0]?.notification.callbackUrl, 'http://recorded.example/cb')
  })

  it('a result without callback_url and no recorded request: dead-lettered MESSAGE_NO_CALLBACK', async () => {
    const { ctx, log } = fixture()
    await run(inputProcessor(ctx), record('sending', SENDING.key, successResult(45, undefined)))
    assert.deepEqual(log.kinds(), ['dead-letter'])
    const { letter } = log.first('dead-letter')
    assert.equal(letter.code, ErrorCodes.MESSAGE_NO_CALLBACK)
    assert.equal(letter.processing_id, 45)
  })
})

describe('intake: retry records', () => {
  function envelope(dueAt: number, reservedSlot = false) {
    const { source, original, original_truncated } = PROVENANCE
    return {
      v: 1,
      notification: toStored(notification()),
      attempts: 1,
      deferrals: 0,
      due_at: dueAt,
      first_attempt_at: dueAt - 1000,
      last_error: 'callback answered 500',
      last_error_code: 'DELIVERY_HTTP_STATUS',
      last_status_code: 500,
      source,
      original,
      original_truncated,
      ...(reservedSlot ? { reserved_slot: true } : {}),
    }
  }

  it('poison (not an envelope): dead-lettered MESSAGE_SCHEMA', async () => {
    const { ctx, log } = fixture()
    await run(retryProcessor(ctx), record('retry', undefined, { v: 2 }))
    assert.deepEqual(log.kinds(), ['dead-letter'])
    assert.equal(log.of('dead-letter')[0]?.letter.code, ErrorCodes.MESSAGE_SCHEMA)
  })

  it('waits until it is due, the wait counted as waited on others, then makes its next attempt', async () => {
    const { ctx, log } = fixture()
    const dueAt = Date.now() + 60
    const waits = new OutsideWaits()
    await retryProcessor(ctx).prepare(record('retry', '9', envelope(dueAt))).run(new AbortController().signal, waits)
    assert.deepEqual(log.kinds(), ['claim', 'send', 'settlement', 'outcome'])
    assert.ok((log.of('send')[0]?.at ?? 0) >= dueAt, 'not sent before it was due')
    assert.equal(log.of('settlement')[0]?.settlement.status.attempts, 2, 'its history goes on')
    assert.ok(waits.outsideMs >= 50, `waited ${waits.outsideMs} ms outside`)
  })

  it('with its slot reserved: sent at it without asking for another', async () => {
    const { ctx, log, controls } = fixture()
    controls.perSecond = 1
    await run(retryProcessor(ctx), record('retry', '9', envelope(Date.now(), true)))
    assert.deepEqual(log.kinds(), ['claim', 'send', 'settlement', 'outcome'])
  })
})
