// The spans of one notification and the W3C trace context it passes on. A handling span
// continues the trace of the Kafka record it came from (the AI handler's `traceparent`, or
// the one a retry record carries); each HTTP attempt is a child span; the callback request
// and the records written on the way (retry record, outcome, dead letter) carry the
// context on, so the client's tracing and the next retry join the same trace.
//
// Without an SDK (no OTEL exporter configured) the tracer is the API's no-op one: its spans
// record nothing and keep the incoming context, so an incoming traceparent is forwarded as
// received (what W3C Trace Context asks of a system that does not take part in a trace),
// and a record without one costs nothing at all (one shared object, no allocation).
// Contexts are passed explicitly, never through a global context manager, tracer or
// propagator: several instances may run in one process (the tests do).
import { ProxyTracerProvider, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter, type TextMapPropagator, type TextMapSetter, type Tracer } from '@opentelemetry/api'
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import {
  attemptAttributes,
  attemptEndAttributes,
  handlingAttributes,
  handlingEndAttributes,
  handlingSpanName,
  type AttemptEnd,
  type AttemptFacts,
  type HandlingFacts,
  type HandlingResult,
  type TracedRecord,
} from './attributes.ts'
import type { PropagatorName } from '../tracing-settings.ts'

/** W3C headers to send on (traceparent, tracestate; baggage where propagated). Empty when there is no trace. The one type of them: the transport and the Kafka publisher take it too. */
export type TraceHeaders = Readonly<Record<string, string>>

export const NO_TRACE_HEADERS: TraceHeaders = Object.freeze({})

export const TRACER_NAME = 'notification-service'

/** One notification's handling: from its Kafka record to a durable end. */
export interface Handling {
  /** The context for what this handling writes to Kafka (retry record, outcome, dead letter). */
  readonly headers: TraceHeaders
  /** Starts the span of one attempt; its headers go with it. */
  attempt(facts: AttemptFacts): Attempt
  end(result: HandlingResult, attempts: number, error?: { code: string; message: string }): void
}

export interface Attempt {
  readonly headers: TraceHeaders
  end(end: AttemptEnd): void
}

const recordHeadersGetter: TextMapGetter<ReadonlyMap<string, string>> = {
  get: (carrier, key) => carrier.get(key),
  keys: (carrier) => [...carrier.keys()],
}

const headersSetter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value
  },
}

const UNTRACED_ATTEMPT: Attempt = { headers: NO_TRACE_HEADERS, end: () => undefined }
const UNTRACED: Handling = { headers: NO_TRACE_HEADERS, attempt: () => UNTRACED_ATTEMPT, end: () => undefined }

export class Tracing {
  readonly #tracer: Tracer
  readonly #propagator: TextMapPropagator | undefined
  /** An SDK records spans: every handling gets spans, with or without an incoming trace. */
  readonly #recording: boolean

  /**
   * @param tracer the SDK's tracer; undefined: the API's no-op tracer (nothing recorded)
   * @param propagators which W3C headers are read and written (OTEL_PROPAGATORS)
   */
  constructor(tracer: Tracer | undefined, propagators: readonly PropagatorName[]) {
    this.#recording = tracer !== undefined
    // A provider of our own, never the global one: no-op unless something is given to it.
    this.#tracer = tracer ?? new ProxyTracerProvider().getTracer(TRACER_NAME)
    this.#propagator = propagatorFor(propagators)
  }

  /** Starts the handling span of a notification from `record`. */
  handling(record: TracedRecord, facts: HandlingFacts): Handling {
    const propagator = this.#propagator
    // The common case without an SDK: nothing to continue, nothing to record.
    if (!this.#recording && (propagator === undefined || record.headers.size === 0)) return UNTRACED
    const parent = propagator === undefined ? ROOT_CONTEXT : propagator.extract(ROOT_CONTEXT, record.headers, recordHeadersGetter)
    if (!this.#recording && parent === ROOT_CONTEXT) return UNTRACED
    const span = this.#tracer.startSpan(handlingSpanName(facts.kind), { kind: SpanKind.CONSUMER, attributes: this.#recording ? handlingAttributes(record, facts) : {} }, parent)
    return new SpanHandling(this.#tracer, propagator, trace.setSpan(parent, span), span)
  }
}

class SpanHandling implements Handling {
  readonly #tracer: Tracer
  readonly #propagator: TextMapPropagator | undefined
  readonly #context: Context
  readonly #span: Span
  #headers: TraceHeaders | undefined

  constructor(tracer: Tracer, propagator: TextMapPropagator | undefined, context: Context, span: Span) {
    this.#tracer = tracer
    this.#propagator = propagator
    this.#context = context
    this.#span = span
  }

  get headers(): TraceHeaders {
    return (this.#headers ??= inject(this.#propagator, this.#context))
  }

  attempt(facts: AttemptFacts): Attempt {
    const recording = this.#span.isRecording()
    const span = this.#tracer.startSpan(facts.name, { kind: SpanKind.CLIENT, attributes: recording ? attemptAttributes(facts) : {} }, this.#context)
    const headers = inject(this.#propagator, trace.setSpan(this.#context, span))
    return {
      headers,
      end(end) {
        if (span.isRecording()) {
          span.setAttributes(attemptEndAttributes(end))
          if (!end.ok) span.setStatus({ code: SpanStatusCode.ERROR, message: end.error.message })
        }
        span.end()
      },
    }
  }

  end(result: HandlingResult, attempts: number, error?: { code: string; message: string }): void {
    const span = this.#span
    if (span.isRecording()) {
      span.setAttributes(handlingEndAttributes(result, attempts, error?.code))
      if (error !== undefined && (result === 'failed' || result === 'error')) span.setStatus({ code: SpanStatusCode.ERROR, message: error.message })
    }
    span.end()
  }
}

function inject(propagator: TextMapPropagator | undefined, context: Context): TraceHeaders {
  if (propagator === undefined) return NO_TRACE_HEADERS
  const headers: Record<string, string> = {}
  propagator.inject(context, headers, headersSetter)
  return headers
}

function propagatorFor(names: readonly PropagatorName[]): TextMapPropagator | undefined {
  const list = names.map((name) => (name === 'tracecontext' ? new W3CTraceContextPropagator() : new W3CBaggagePropagator()))
  if (list.length === 0) return undefined
  return list.length === 1 ? list[0] : new CompositePropagator({ propagators: list })
}
