// What the attempt stage needs of a way to deliver: one attempt of one notification, whose
// result says what happened and never throws. The HTTP client is the one transport today;
// another destination (a queue, email) is another implementation of this.
import type { DeliveryError } from '../errors.ts'
import type { Notification } from '../notifications/payload.ts'
import type { AnswerKind } from './answers.ts'

/** What one attempt came to: its row in the answer table (answers.ts), and the error when it failed. */
export type AttemptOutcome =
  | { ok: true; answer: AnswerKind; statusCode: number; durationMs: number }
  | { ok: false; answer: AnswerKind; error: DeliveryError; durationMs: number }

export interface Transport {
  /** @param traceHeaders W3C trace context (traceparent, tracestate) to send along, when the notification is traced */
  send(notification: Notification, traceHeaders?: Readonly<Record<string, string>>): Promise<AttemptOutcome>
  close(): Promise<void>
}
