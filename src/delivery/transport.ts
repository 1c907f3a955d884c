// What the pipeline needs of a way to deliver (a sink): the key its destinations are kept
// under, and one attempt of one notification whose result says what happened and never
// throws. Circuits, concurrency limits, rate limits, pauses and Retry-After holds are kept
// per destination key; what each answer means is the answer table's (answers.ts). The HTTP
// client (http-client.ts) is the one transport today; another sink (a queue, email) is
// another implementation of this.
import type { DeliveryError } from '../errors.ts'
import type { Notification } from '../notifications/payload.ts'
import type { TraceHeaders } from '../telemetry/tracing.ts'
import type { AnswerKind } from './answers.ts'

/** What one attempt came to: its row in the answer table, the status code where the sink has one, the error when it failed. */
export type AttemptOutcome =
  | { ok: true; answer: AnswerKind; statusCode?: number; durationMs: number }
  | { ok: false; answer: AnswerKind; error: DeliveryError; durationMs: number }

export interface Transport {
  /** The span name of an attempt (HTTP: the method, 'POST'). */
  readonly attemptName: string
  /** The destination a notification goes to, the key of everything kept per destination (HTTP: the callback URL's origin). */
  destinationOf(notification: Notification): string
  /** @param traceHeaders W3C trace context (traceparent, tracestate) to send along, when the notification is traced */
  send(notification: Notification, traceHeaders?: TraceHeaders): Promise<AttemptOutcome>
  close(): Promise<void>
}
