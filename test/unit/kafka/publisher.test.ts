import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { MultipleErrors, NetworkError, ProtocolError, UserError } from '@platformatic/kafka'
import { ErrorCodes, NotificationError } from '../../../src/errors.ts'
import { plaintextConnection } from '../../../src/kafka/connection.ts'
import { Publisher, type Outgoing, type RecordProducer } from '../../../src/kafka/publisher.ts'
import type { TopicNames } from '../../../src/names.ts'
import type { DeadLetter, OriginPausedEvent, Outcome, RetryEnvelope } from '../../../src/notifications/records.ts'

const topics: TopicNames = { input: [{ name: 'in.sending', key: 'new_sending' }, { name: 'in.ai', key: 'new_request' }], deadLetter: 'out.dlq', outcomes: 'out.outcomes' }
const trace = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'x=1' }

/** A producer that keeps what it is sent, answering each send with `answer`. */
class FakeProducer implements RecordProducer {
  readonly sends: Outgoing[][] = []
  closed = false
  answer: () => Promise<unknown> = () => Promise.resolve()

  send(request: { messages: Outgoing[] }): Promise<unknown> {
    this.sends.push(request.messages)
    return this.answer()
  }

  close(): Promise<void> {
    this.closed = true
    return Promise.resolve()
  }
}

function publisherWith(producer: FakeProducer): Publisher {
  return new Publisher({ connection: plaintextConnection(['127.0.0.1:1']), clientId: 'unit', topics, producer })
}

async function rejection(promise: Promise<unknown>): Promise<NotificationError> {
  try {
    await promise
  } catch (error) {
    assert.ok(error instanceof NotificationError, String(error))
    return error
  }
  assert.fail('the produce succeeded')
}

const outcome: Outcome = { processing_id: 42, status: 'delivered', attempts: 1, last_status_code: 200, at: '2026-12-03T00:00:00.000Z' }
const source = { topic: 'in.sending', partition: 0, offset: '7', key: 'new_sending', timestamp: null }
const letter = (processingId: number | null) => ({ reason: 'bad', code: 'MESSAGE_SCHEMA', source, original: '{}', original_truncated: false, processing_id: processingId, attempts: 0, last_error: null, last_status_code: null, failed_at: outcome.at }) as DeadLetter

describe('Publisher: what it produces', () => {
  it('an outcome: to the outcomes topic, keyed by processing_id, with the trace context as headers', async () => {
    const producer = new FakeProducer()
    await publisherWith(producer).outcome(outcome, trace)
    assert.deepEqual(producer.sends, [[{ topic: 'out.outcomes', key: '42', value: JSON.stringify(outcome), headers: trace }]])
  })

  it('no headers at all without a trace context, or with an empty one', async () => {
    const producer = new FakeProducer()
    const publisher = publisherWith(producer)
    await Promise.all([publisher.outcome(outcome), publisher.outcome(outcome, {})])
    for (const message of producer.sends.flat()) assert.equal('headers' in message, false)
  })

  it('a retry: to the tier given, keyed by processing_id, the trace context carried on', async () => {
    const producer = new FakeProducer()
    const envelope = { v: 1, notification: { processing_id: 9 }, attempts: 1 } as unknown as RetryEnvelope
    await publisherWith(producer).scheduleRetry('retry.5s', envelope, trace)
    assert.deepEqual(producer.sends, [[{ topic: 'retry.5s', key: '9', value: JSON.stringify(envelope), headers: trace }]])
  })

  it('a dead letter: keyed by processing_id, else by the source record’s key; headers name its code and source topic beside the trace', async () => {
    const producer = new FakeProducer()
    const publisher = publisherWith(producer)
    await publisher.deadLetter(letter(5), trace)
    await publisher.deadLetter(letter(null))
    const [[withId], [withoutId]] = producer.sends as [[Outgoing], [Outgoing]]
    assert.deepEqual(withId, { topic: 'out.dlq', key: '5', value: JSON.stringify(letter(5)), headers: { ...trace, 'dlq-code': 'MESSAGE_SCHEMA', 'dlq-source-topic': 'in.sending' } })
    assert.equal(withoutId.key, 'new_sending')
    assert.deepEqual(withoutId.headers, { 'dlq-code': 'MESSAGE_SCHEMA', 'dlq-source-topic': 'in.sending' })
  })

  it('an origin event: on the outcomes topic, keyed by the origin, its kind in a header', async () => {
    const producer = new FakeProducer()
    const event: OriginPausedEvent = { event: 'origin_paused', origin: 'https://a.example', paused_at: outcome.at, circuit_open_since: outcome.at, last_error: '503' }
    await publisherWith(producer).originEvent(event)
    assert.deepEqual(producer.sends, [[{ topic: 'out.outcomes', key: 'https://a.example', value: JSON.stringify(event), headers: { event: 'origin_paused' } }]])
  })

  it('a republished record as given; without a key when it had none', async () => {
    const producer = new FakeProducer()
    const publisher = publisherWith(producer)
    await publisher.republish('in.sending', 'k', 'v1')
    await publisher.republish('in.sending', null, 'v2')
    assert.deepEqual(producer.sends, [[{ topic: 'in.sending', key: 'k', value: 'v1' }], [{ topic: 'in.sending', value: 'v2' }]])
  })

  it('records for one topic asked for together go in one produce request; each topic in a request of its own (platformatic/kafka#109)', async () => {
    const producer = new FakeProducer()
    const publisher = publisherWith(producer)
    await Promise.all([publisher.outcome(outcome), publisher.republish('in.sending', null, 'x'), publisher.outcome({ ...outcome, processing_id: 43 }), publisher.deadLetter(letter(44))])
    assert.equal(producer.sends.length, 3)
    for (const sent of producer.sends) assert.equal(new Set(sent.map((message) => message.topic)).size, 1)
    const byTopic = new Map(producer.sends.map((sent) => [sent[0]!.topic, sent.map((message) => message.key)]))
    assert.deepEqual(byTopic, new Map<string, Array<string | undefined>>([['out.outcomes', ['42', '43']], ['in.sending', [undefined]], ['out.dlq', ['44']]]))
  })

  // The soak (issue 21): on three brokers over SASL_SSL a request took tens to hundreds of ms,
  // and a 2 ms wait sent one or two records per request, which then queued on the connection.
  it('once requests come back slowly, records asked for further apart share a request', async () => {
    const producer = new FakeProducer()
    const publisher = publisherWith(producer)
    const tenMs = () => new Promise((resolve) => setTimeout(resolve, 10))
    const separately = async () => {
      const first = publisher.outcome(outcome)
      await tenMs()
      await Promise.all([first, publisher.outcome({ ...outcome, processing_id: 43 })])
    }
    await separately()
    assert.equal(producer.sends.length, 2, 'at first (requests answered at once), 10 ms apart is two requests')
    producer.answer = () => new Promise((resolve) => setTimeout(resolve, 60))
    for (let i = 0; i < 30; i++) await publisher.outcome(outcome)
    producer.sends.length = 0
    await separately()
    assert.equal(producer.sends.length, 1, 'with requests taking 60 ms, the two go together')
  })

  it('close sends what is waiting, then closes the producer', async () => {
    const producer = new FakeProducer()
    const publisher = publisherWith(producer)
    const sent = publisher.outcome(outcome)
    await publisher.close()
    await sent
    assert.equal(producer.sends.length, 1)
    assert.equal(producer.closed, true)
  })
})

describe('Publisher: how a failed produce is read', () => {
  it('Kafka unreachable (a retryable network error): KAFKA_UNAVAILABLE, retried', async () => {
    const producer = new FakeProducer()
    producer.answer = () => Promise.reject(new MultipleErrors('Cannot connect to any broker.', [new NetworkError('Connection to 127.0.0.1:1 failed.')]))
    const error = await rejection(publisherWith(producer).outcome(outcome))
    assert.equal(error.code, ErrorCodes.KAFKA_UNAVAILABLE)
    assert.equal(error.canRetry, true)
    assert.match(error.message, /^Kafka produce failed: Cannot connect to any broker\./)
  })

  it('a TLS handshake cut short under a retryable network error (a broker restarting): still KAFKA_UNAVAILABLE', async () => {
    const producer = new FakeProducer()
    const handshake = new NetworkError('Connection to 127.0.0.1:1 failed.', { cause: new UserError('TLS handshake failed. Please verify the broker supports TLS.') })
    producer.answer = () => Promise.reject(new MultipleErrors('metadata failed 6 times.', [handshake]))
    const error = await rejection(publisherWith(producer).outcome(outcome))
    assert.equal(error.code, ErrorCodes.KAFKA_UNAVAILABLE)
  })

  it('the broker refusing the record: KAFKA_REJECTED, final, naming the broker’s answer', async () => {
    const producer = new FakeProducer()
    producer.answer = () => Promise.reject(new MultipleErrors('Received response with error', [new ProtocolError('MESSAGE_TOO_LARGE')]))
    const error = await rejection(publisherWith(producer).republish('in.sending', null, 'x'))
    assert.equal(error.code, ErrorCodes.KAFKA_REJECTED)
    assert.equal(error.canRetry, false)
    assert.match(error.message, /^Kafka refused the record: Received response with error \(MESSAGE_TOO_LARGE\)$/)
  })

  it('fails every record of the batch', async () => {
    const producer = new FakeProducer()
    producer.answer = () => Promise.reject(new UserError('Failed to serialize a message.'))
    const publisher = publisherWith(producer)
    const results = await Promise.allSettled([publisher.outcome(outcome), publisher.outcome({ ...outcome, processing_id: 43 })])
    assert.deepEqual(results.map((result) => result.status), ['rejected', 'rejected'])
    assert.equal(producer.sends.length, 1)
  })
})
