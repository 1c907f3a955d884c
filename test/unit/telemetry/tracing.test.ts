// The spans of a notification and the W3C context it passes on, with the real SDK
// (in-memory exporter) and without one (the no-op API).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { SpanKind, SpanStatusCode } from '@opentelemetry/api'
import { AlwaysOnSampler, InMemorySpanExporter, ParentBasedSampler, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace'
import { attemptAttributes, attemptEndAttributes, type TracedRecord } from '../../../src/telemetry/attributes.ts'
import { NO_TRACE_HEADERS, TRACER_NAME, Tracing } from '../../../src/telemetry/tracing.ts'

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT_ID = '00f067aa0ba902b7'
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`

function record(headers: Record<string, string> = {}): TracedRecord {
  return { topic: 'sending', partition: 3, offset: 42n, headers: new Map(Object.entries(headers)) }
}

const facts = { kind: 'result', processingId: 7, previousAttempts: 0 }
const attempt = { name: 'POST', number: 1, destination: 'https://client.example' }

function sdk(): { tracing: Tracing; spans: () => ReadableSpan[] } {
  const exporter = new InMemorySpanExporter()
  const provider = new TracerProvider({ sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }), spanProcessors: [new SimpleSpanProcessor({ exporter })] })
  return { tracing: new Tracing(provider.getTracer(TRACER_NAME), ['tracecontext']), spans: () => exporter.getFinishedSpans() }
}

describe('tracing without an SDK', () => {
  it('a record without trace headers costs nothing: the shared empty headers, no span', () => {
    const tracing = new Tracing(undefined, ['tracecontext'])
    const handling = tracing.handling(record(), facts)
    assert.equal(handling.headers, NO_TRACE_HEADERS)
    assert.equal(handling.attempt(attempt).headers, NO_TRACE_HEADERS)
  })

  it('forwards an incoming traceparent and tracestate unchanged, to the callback and to the records', () => {
    const tracing = new Tracing(undefined, ['tracecontext'])
    const handling = tracing.handling(record({ traceparent: TRACEPARENT, tracestate: 'vendor=abc,other=1' }), facts)
    const expected = { traceparent: TRACEPARENT, tracestate: 'vendor=abc,other=1' }
    assert.deepEqual(handling.attempt(attempt).headers, expected)
    assert.deepEqual(handling.headers, expected)
  })

  it('drops a malformed traceparent rather than forwarding it', () => {
    const tracing = new Tracing(undefined, ['tracecontext'])
    assert.deepEqual(tracing.handling(record({ traceparent: 'not-a-traceparent' }), facts).attempt(attempt).headers, {})
    assert.deepEqual(tracing.handling(record({ traceparent: `00-${'0'.repeat(32)}-${PARENT_ID}-01` }), facts).attempt(attempt).headers, {})
  })

  it('W3C baggage only with OTEL_PROPAGATORS naming it; none forwards nothing', () => {
    const headers = { traceparent: TRACEPARENT, baggage: 'tenant=acme' }
    assert.deepEqual(new Tracing(undefined, ['tracecontext']).handling(record(headers), facts).attempt(attempt).headers, { traceparent: TRACEPARENT })
    assert.deepEqual(new Tracing(undefined, ['tracecontext', 'baggage']).handling(record(headers), facts).attempt(attempt).headers, { traceparent: TRACEPARENT, baggage: 'tenant=acme' })
    assert.equal(new Tracing(undefined, []).handling(record(headers), facts).attempt(attempt).headers, NO_TRACE_HEADERS)
  })
})

describe('tracing with the SDK', () => {
  it('continues the incoming trace: handling span (consumer) → attempt span (client), each context passed on', () => {
    const { tracing, spans } = sdk()
    const handling = tracing.handling(record({ traceparent: TRACEPARENT, tracestate: 'vendor=abc' }), facts)
    const first = handling.attempt(attempt)
    first.end({ ok: false, error: { code: 'DELIVERY_HTTP_STATUS', message: 'callback answered 500', statusCode: 500 } })
    const outgoing = handling.headers
    handling.end('retrying', 1, { code: 'DELIVERY_HTTP_STATUS', message: 'callback answered 500' })

    const [attemptSpan, handlingSpan] = spans()
    assert.ok(attemptSpan && handlingSpan)
    assert.equal(handlingSpan.name, 'deliver result')
    assert.equal(handlingSpan.kind, SpanKind.CONSUMER)
    assert.equal(handlingSpan.spanContext().traceId, TRACE_ID)
    assert.equal(handlingSpan.parentSpanContext?.spanId, PARENT_ID)
    assert.equal(handlingSpan.parentSpanContext?.isRemote, true)
    assert.deepEqual(handlingSpan.attributes, {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'sending',
      'messaging.destination.partition.id': '3',
      'messaging.kafka.offset': 42,
      'notification.kind': 'result',
      'notification.processing_id': 7,
      'notification.previous_attempts': 0,
      'notification.result': 'retrying',
      'notification.attempts': 1,
      'error.type': 'DELIVERY_HTTP_STATUS',
      'notification.error.code': 'DELIVERY_HTTP_STATUS',
    })
    // A retry scheduled is not a failure of the handling.
    assert.equal(handlingSpan.status.code, SpanStatusCode.UNSET)

    assert.equal(attemptSpan.name, 'POST')
    assert.equal(attemptSpan.kind, SpanKind.CLIENT)
    assert.equal(attemptSpan.parentSpanContext?.spanId, handlingSpan.spanContext().spanId)
    assert.equal(attemptSpan.attributes['http.response.status_code'], 500)
    assert.equal(attemptSpan.attributes['error.type'], '500')
    assert.equal(attemptSpan.attributes['notification.attempt'], 1)
    assert.equal(attemptSpan.status.code, SpanStatusCode.ERROR)

    // The callback carries the attempt span; the records written carry the handling span.
    assert.deepEqual(first.headers, { traceparent: `00-${TRACE_ID}-${attemptSpan.spanContext().spanId}-01`, tracestate: 'vendor=abc' })
    assert.deepEqual(outgoing, { traceparent: `00-${TRACE_ID}-${handlingSpan.spanContext().spanId}-01`, tracestate: 'vendor=abc' })
  })

  it('a retry record carrying the handling context continues the same trace, one level down', () => {
    const { tracing, spans } = sdk()
    const firstHandling = tracing.handling(record({ traceparent: TRACEPARENT }), facts)
    const carried = firstHandling.headers
    firstHandling.end('retrying', 1)
    const retry = tracing.handling({ topic: 'group.retry.5s', partition: 0, offset: 1n, headers: new Map(Object.entries(carried)) }, { ...facts, previousAttempts: 1 })
    const second = retry.attempt({ name: 'POST', number: 2, destination: 'https://client.example' })
    second.end({ ok: true, statusCode: 200 })
    retry.end('delivered', 2)
    const [first, attemptSpan, retrySpan] = spans()
    assert.ok(first && attemptSpan && retrySpan)
    assert.equal(retrySpan.spanContext().traceId, TRACE_ID)
    assert.equal(retrySpan.parentSpanContext?.spanId, first.spanContext().spanId)
    assert.equal(retrySpan.attributes['messaging.destination.name'], 'group.retry.5s')
    assert.equal(attemptSpan.attributes['http.request.resend_count'], 1)
    assert.equal(attemptSpan.status.code, SpanStatusCode.UNSET)
  })

  it('without an incoming trace, starts one; the callback still gets a traceparent', () => {
    const { tracing, spans } = sdk()
    const handling = tracing.handling(record(), facts)
    const traced = handling.attempt(attempt)
    traced.end({ ok: true, statusCode: 204 })
    handling.end('delivered', 1)
    const [attemptSpan, handlingSpan] = spans()
    assert.ok(attemptSpan && handlingSpan)
    assert.equal(handlingSpan.parentSpanContext, undefined)
    assert.match(traced.headers.traceparent ?? '', new RegExp(`^00-${handlingSpan.spanContext().traceId}-${attemptSpan.spanContext().spanId}-01$`))
  })

  it('an incoming trace that was not sampled stays unsampled: nothing recorded, the trace id still forwarded', () => {
    const { tracing, spans } = sdk()
    const handling = tracing.handling(record({ traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` }), facts)
    const traced = handling.attempt(attempt)
    traced.end({ ok: true, statusCode: 200 })
    handling.end('delivered', 1)
    assert.equal(spans().length, 0)
    assert.match(traced.headers.traceparent ?? '', new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`))
  })

  it('a final failure marks the handling span as an error', () => {
    const { tracing, spans } = sdk()
    const handling = tracing.handling(record({ traceparent: TRACEPARENT }), facts)
    handling.end('failed', 1, { code: 'DELIVERY_GONE', message: 'callback answered 410 Gone' })
    const [span] = spans()
    assert.equal(span?.status.code, SpanStatusCode.ERROR)
    assert.equal(span?.status.message, 'callback answered 410 Gone')
    assert.equal(span?.attributes['notification.result'], 'failed')
  })
})

describe('span attributes', () => {
  it('an attempt names the callback origin, never the full URL', () => {
    assert.deepEqual(attemptAttributes({ name: 'POST', number: 3, destination: 'https://client.example' }), {
      'http.request.method': 'POST',
      'notification.attempt': 3,
      'http.request.resend_count': 2,
      'notification.callback.origin': 'https://client.example',
      'url.scheme': 'https',
      'server.address': 'client.example',
      'server.port': 443,
    })
    assert.equal(attemptAttributes({ name: 'POST', number: 1, destination: 'http://[::1]:8080' })['server.address'], '::1')
    assert.equal(attemptAttributes({ name: 'POST', number: 1, destination: 'http://[::1]:8080' })['server.port'], 8080)
  })

  it('error.type: the status code when the client answered, else our code', () => {
    assert.deepEqual(attemptEndAttributes({ ok: true, statusCode: 200 }), { 'http.response.status_code': 200 })
    assert.deepEqual(attemptEndAttributes({ ok: false, error: { code: 'DELIVERY_TIMEOUT', message: 'no answer', statusCode: undefined } }), {
      'error.type': 'DELIVERY_TIMEOUT',
      'notification.error.code': 'DELIVERY_TIMEOUT',
    })
  })
})
