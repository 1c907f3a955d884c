// Tracing end to end against the real broker, Redis, a real callback receiver and a real
// OTLP/HTTP receiver: one trace from the produced record's traceparent, through the
// handling and attempt spans (a 500, a retry through a retry tier, a 200), to the callback
// requests and the outcome record; without OTEL settings the traceparent is forwarded as
// received and nothing is exported; SIGTERM flushes queued spans; bad settings exit 78.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { loadConfig } from '../../src/config.ts'
import { retryTiers } from '../../src/names.ts'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { produce, readTopicUntil, uniqueTopics, type ReadRecord, type TestTopics } from '../helpers/kafka.ts'
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.ts'
import { startReceiver, type ReceivedRequest, type Receiver } from '../helpers/receiver.ts'
import { readyChild, spawnService, startService, testEnv } from '../helpers/service.ts'

const SPAN_KIND_CLIENT = 3
const SPAN_KIND_CONSUMER = 5
const STATUS_UNSET = 0
const STATUS_ERROR = 2

let receiver: Receiver
let otlp: OtlpReceiver

/** Paths under /flaky/ answer 500 to their first request, then 200; under /gone/, 410. */
function respond(request: ReceivedRequest) {
  if (request.path.startsWith('/gone/')) return { status: 410 }
  const earlier = receiver.requests.filter((r) => r.path === request.path).length
  return { status: request.path.startsWith('/flaky/') && earlier === 0 ? 500 : 200 }
}

before(async () => {
  receiver = await startReceiver((request) => respond(request))
  otlp = await startOtlpReceiver()
})

after(async () => {
  await receiver?.close()
  await otlp?.close()
})

function newTrace(): { traceId: string; parentId: string; traceparent: string } {
  const traceId = randomBytes(16).toString('hex')
  const parentId = randomBytes(8).toString('hex')
  return { traceId, parentId, traceparent: `00-${traceId}-${parentId}-01` }
}

function forPath(path: string) {
  return (request: ReceivedRequest) => request.path === path
}

async function produceResult(topics: TestTopics, id: number, path: string, headers?: Record<string, string>): Promise<void> {
  await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}${path}`)), ...(headers ? { headers } : {}) }])
}

async function recordOf(topic: string, id: number): Promise<ReadRecord> {
  const records = await readTopicUntil(topic, (read) => read.some((record) => record.key === String(id)), 20_000)
  const mine = records.find((record) => record.key === String(id))
  assert.ok(mine, `no record for ${id} in ${topic}`)
  return mine
}

function only(spans: ReceivedSpan[], match: (span: ReceivedSpan) => boolean, what: string): ReceivedSpan {
  const found = spans.filter(match)
  assert.equal(found.length, 1, `${what}: ${JSON.stringify(spans.map((span) => [span.name, span.attributes]))}`)
  return found[0]!
}

describe('tracing (OpenTelemetry)', () => {
  test('one trace from the produced traceparent through both attempts (500, a retry, 200) to the callbacks and the outcome record', async () => {
    const topics = uniqueTopics('trace')
    const service = await startService(
      testEnv(topics, {
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/v1/traces`,
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_BSP_SCHEDULE_DELAY: '50',
        OTEL_SERVICE_NAME: 'notification-service-test',
      }),
    )
    try {
      const { traceId, parentId, traceparent } = newTrace()
      const id = newProcessingId()
      const path = `/flaky/${id}`
      await produceResult(topics, id, path, { traceparent, tracestate: 'vendor=abc' })

      const [first, second] = await receiver.waitFor(2, 20_000, forPath(path))
      assert.ok(first && second)
      const outcome = await recordOf(topics.KAFKA_TOPIC_FOR_NOTIFICATIONS, id)
      assert.equal((JSON.parse(outcome.value) as { status: string; attempts: number }).status, 'delivered')
      const spans = await otlp.waitForTrace(traceId, 4)
      assert.equal(spans.length, 4)

      const handling1 = only(spans, (span) => span.kind === SPAN_KIND_CONSUMER && span.attributes['notification.previous_attempts'] === 0, 'first handling span')
      const handling2 = only(spans, (span) => span.kind === SPAN_KIND_CONSUMER && span.attributes['notification.previous_attempts'] === 1, 'retry handling span')
      const attempt1 = only(spans, (span) => span.kind === SPAN_KIND_CLIENT && span.attributes['notification.attempt'] === 1, 'first attempt span')
      const attempt2 = only(spans, (span) => span.kind === SPAN_KIND_CLIENT && span.attributes['notification.attempt'] === 2, 'second attempt span')

      // The handling continues the AI handler's span; the retry continues the first handling.
      assert.equal(handling1.parentSpanId, parentId)
      assert.equal(handling1.name, 'deliver result')
      assert.equal(handling1.attributes['notification.processing_id'], id)
      assert.equal(handling1.attributes['messaging.destination.name'], topics.KAFKA_TOPIC_FOR_SENDING)
      assert.equal(handling1.attributes['notification.result'], 'retrying')
      assert.equal(handling1.status.code, STATUS_UNSET)
      assert.equal(handling2.parentSpanId, handling1.spanId)
      const [firstTier] = retryTiers(topics.KAFKA_GROUP_ID, [100, 200, 300])
      assert.equal(handling2.attributes['messaging.destination.name'], firstTier?.topic)
      assert.equal(handling2.attributes['notification.result'], 'delivered')
      assert.equal(handling2.attributes['notification.attempts'], 2)
      assert.equal(handling2.resource['service.name'], 'notification-service-test')

      // One span per attempt, under its handling, with status, attempt number, origin and error code.
      assert.equal(attempt1.parentSpanId, handling1.spanId)
      assert.equal(attempt1.name, 'POST')
      assert.equal(attempt1.attributes['http.response.status_code'], 500)
      assert.equal(attempt1.attributes['notification.callback.origin'], receiver.url)
      assert.equal(attempt1.attributes['server.port'], receiver.port)
      assert.equal(attempt1.attributes['notification.error.code'], 'DELIVERY_HTTP_STATUS')
      assert.equal(attempt1.attributes['error.type'], '500')
      assert.equal(attempt1.status.code, STATUS_ERROR)
      assert.equal(attempt2.parentSpanId, handling2.spanId)
      assert.equal(attempt2.attributes['http.response.status_code'], 200)
      assert.equal(attempt2.attributes['http.request.resend_count'], 1)
      assert.equal(attempt2.attributes['notification.callback.origin'], receiver.url)
      assert.equal(attempt2.attributes['notification.error.code'], undefined)
      assert.equal(attempt2.status.code, STATUS_UNSET)

      // Each callback request carries its attempt's span, so the client's spans join the trace.
      assert.equal(first.headers.traceparent, `00-${traceId}-${attempt1.spanId}-01`)
      assert.equal(second.headers.traceparent, `00-${traceId}-${attempt2.spanId}-01`)
      assert.equal(first.headers.tracestate, 'vendor=abc')
      assert.equal(second.headers.tracestate, 'vendor=abc')

      // The retry record and the outcome record carry the handling's context in their headers.
      assert.ok(firstTier)
      const retryRecord = await recordOf(firstTier.topic, id)
      assert.equal(retryRecord.headers.get('traceparent'), `00-${traceId}-${handling1.spanId}-01`)
      assert.equal(outcome.headers.get('traceparent'), `00-${traceId}-${handling2.spanId}-01`)
      assert.equal(outcome.headers.get('tracestate'), 'vendor=abc')
    } finally {
      await service.close()
    }
  })

  test('without OTEL settings: no SDK; an incoming traceparent is forwarded unchanged (also after a retry, and to a dead letter), none is made up', async () => {
    const topics = uniqueTopics('notrace')
    const env = testEnv(topics)
    assert.equal(loadConfig(env).tracing.export, undefined)
    const service = await startService(env)
    try {
      const { traceparent } = newTrace()
      const traced = newProcessingId()
      const plain = newProcessingId()
      const gone = newProcessingId()
      await produceResult(topics, traced, `/flaky/${traced}`, { traceparent, tracestate: 'vendor=abc' })
      await produceResult(topics, plain, `/plain/${plain}`)
      await produceResult(topics, gone, `/gone/${gone}`, { traceparent })

      const requests = await receiver.waitFor(2, 20_000, forPath(`/flaky/${traced}`))
      for (const request of requests) {
        assert.equal(request.headers.traceparent, traceparent)
        assert.equal(request.headers.tracestate, 'vendor=abc')
      }
      const [untraced] = await receiver.waitFor(1, 20_000, forPath(`/plain/${plain}`))
      assert.equal(untraced?.headers.traceparent, undefined)
      assert.equal(untraced?.headers.tracestate, undefined)

      const [firstTier] = retryTiers(topics.KAFKA_GROUP_ID, [100, 200, 300])
      assert.ok(firstTier)
      assert.equal((await recordOf(firstTier.topic, traced)).headers.get('traceparent'), traceparent)
      const outcome = await recordOf(topics.KAFKA_TOPIC_FOR_NOTIFICATIONS, traced)
      assert.equal(outcome.headers.get('traceparent'), traceparent)
      assert.equal(outcome.headers.get('tracestate'), 'vendor=abc')
      assert.equal((await recordOf(topics.KAFKA_TOPIC_FOR_NOTIFICATIONS, plain)).headers.size, 0)
      // Given up at once (410 Gone): the dead letter and the "failed" outcome carry it too.
      const letter = await recordOf(topics.KAFKA_TOPIC_DLQ, gone)
      assert.equal(letter.headers.get('traceparent'), traceparent)
      assert.equal(letter.headers.get('dlq-code'), 'DELIVERY_GONE')
      const failed = await recordOf(topics.KAFKA_TOPIC_FOR_NOTIFICATIONS, gone)
      assert.equal((JSON.parse(failed.value) as { status: string }).status, 'failed')
      assert.equal(failed.headers.get('traceparent'), traceparent)
    } finally {
      await service.close()
    }
  })

  test('OTEL_SDK_DISABLED=true with an endpoint set: forwarded as without settings, nothing exported (not even at shutdown)', async () => {
    const topics = uniqueTopics('offtrace')
    const exportsBefore = otlp.requests.length
    const service = await startService(testEnv(topics, { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '50' }))
    const { traceparent } = newTrace()
    const id = newProcessingId()
    try {
      await produceResult(topics, id, `/off/${id}`, { traceparent })
      const [request] = await receiver.waitFor(1, 20_000, forPath(`/off/${id}`))
      assert.equal(request?.headers.traceparent, traceparent)
      await recordOf(topics.KAFKA_TOPIC_FOR_NOTIFICATIONS, id)
    } finally {
      // close() would flush an SDK's queue: once it returned, whatever was to be exported has been.
      await service.close()
    }
    assert.equal(otlp.requests.length, exportsBefore)
  })

  test('SIGTERM: spans still queued are exported (http/protobuf, the default) before the process exits 0', async () => {
    const topics = uniqueTopics('sigtrace')
    // A schedule delay longer than the test: only the shutdown can export these spans.
    const child = await readyChild(testEnv(topics, { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_BSP_SCHEDULE_DELAY: '600000' }))
    const exited = once(child, 'exit')
    try {
      const { traceId, traceparent } = newTrace()
      const id = newProcessingId()
      await produceResult(topics, id, `/sig/${id}`, { traceparent })
      const [request] = await receiver.waitFor(1, 20_000, forPath(`/sig/${id}`))
      const attemptSpanId = /^00-[0-9a-f]{32}-([0-9a-f]{16})-01$/.exec(String(request?.headers.traceparent))?.[1]
      assert.ok(attemptSpanId, String(request?.headers.traceparent))
      // The outcome is written before the handling span ends: both spans are queued, none sent yet.
      await recordOf(topics.KAFKA_TOPIC_FOR_NOTIFICATIONS, id)
      const carrying = (bytes: Buffer) => otlp.requests.filter((r) => r.body.includes(bytes))
      assert.equal(carrying(Buffer.from(traceId, 'hex')).length, 0)

      child.kill('SIGTERM')
      const [code] = (await exited) as [number | null]
      assert.equal(code, 0)
      const exported = carrying(Buffer.from(traceId, 'hex'))
      assert.equal(exported.length, 1)
      assert.equal(exported[0]?.path, '/v1/traces')
      assert.equal(exported[0]?.contentType, 'application/x-protobuf')
      assert.ok(exported[0]?.body.includes(Buffer.from(attemptSpanId, 'hex')))
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    }
  })

  test('a malformed OTEL setting stops start-up with exit 78 and one line naming the variable', async () => {
    const child = spawnService({ ...testEnv(uniqueTopics('badtrace')), OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_TRACES_SAMPLER: 'sometimes' })
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.stdout?.resume()
    const [code] = (await once(child, 'exit')) as [number | null]
    assert.equal(code, 78)
    const lines = stderr.trim().split('\n')
    assert.equal(lines.length, 1, stderr)
    assert.match(lines[0] ?? '', /^Invalid configuration: OTEL_TRACES_SAMPLER: must be one of always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off, parentbased_traceidratio, got "sometimes"$/)
  })
})
