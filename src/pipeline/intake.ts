// Where records enter the pipeline. The input topics bring results and requests (and
// other services' records, and poison); the retry tiers bring notifications waiting for
// their next attempt. Each record becomes a Dispatch for deliver(), a recorded request, or
// a dead letter with its reason. The consumer loops call the two processors made here.
import { Interrupted, ErrorCodes, NotificationError, PoisonMessageError, describeError } from '../errors.ts'
import type { InputRecord, RecordProcessor } from '../kafka/consumer-loop.ts'
import type { OutsideWaits } from '../kafka/in-flight-limit.ts'
import { classify, type Classified } from '../messages/classify.ts'
import type { ProcessingRequest } from '../messages/schemas.ts'
import { ourKeyFor } from '../names.ts'
import { buildAcceptedNotification, buildResultNotification } from '../notifications/payload.ts'
import { fromStored, parseEnvelope, type RetryEnvelope } from '../notifications/records.ts'
import type { TracedRecord } from '../telemetry/attributes.ts'
import { step, waitOutside, type PipelineContext } from './context.ts'
import { deliver } from './deliver.ts'
import { recordLetter, type RecordProblem } from './letters.ts'
import { provenanceOf, type Provenance } from './provenance.ts'
import { FIRST_TIME } from './decide.ts'

/** Records of the input topics (sending, AI_handler); those of one processing_id run in order. */
export function inputProcessor(ctx: PipelineContext): RecordProcessor {
  return {
    prepare(record) {
      const classified = classify(record.key, record.value, ourKeyFor(ctx.topics, record.topic))
      return { key: processingIdOf(classified), run: (signal, waits) => handleInput(ctx, record, classified, signal, waits) }
    },
    onUnexpected: (record, error, signal) => deadLetterUnexpected(ctx, record, error, signal),
  }
}

/** Records of a retry tier: each waits until it is due, then makes its next attempt. */
export function retryProcessor(ctx: PipelineContext): RecordProcessor {
  return {
    prepare(record) {
      const parsed = parseEnvelope(record.value)
      if ('error' in parsed) {
        const poison = new PoisonMessageError(ErrorCodes.MESSAGE_SCHEMA, parsed.error)
        return { key: undefined, run: (signal) => deadLetterPoison(ctx, provenanceOf(record), poison, signal) }
      }
      const { envelope } = parsed
      return { key: String(envelope.notification.processing_id), run: (signal, waits) => handleRetry(ctx, tracedPart(record), envelope, signal, waits) }
    },
    onUnexpected: (record, error, signal) => deadLetterUnexpected(ctx, record, error, signal),
  }
}

/** Not async itself: each branch's own promise is handed on as it is (nothing here throws). */
function handleInput(ctx: PipelineContext, record: InputRecord, classified: Classified, signal: AbortSignal, waits: OutsideWaits): Promise<void> {
  ctx.metrics.consumed.count(record.topic, classified.kind)
  switch (classified.kind) {
    case 'foreign':
      return Promise.resolve()
    case 'poison':
      return deadLetterPoison(ctx, provenanceOf(record), classified.error, signal)
    case 'request':
      return handleRequest(ctx, record, classified.request, signal, waits)
    case 'result':
      return handleResult(ctx, record, classified, signal, waits)
  }
}

async function handleRequest(ctx: PipelineContext, record: InputRecord, request: ProcessingRequest, signal: AbortSignal, waits: OutsideWaits): Promise<void> {
  const { callback_url, user_id, resume_id, requirements_id } = request
  await step(ctx, signal, () => ctx.store.recordRequest(request.processing_id, { callback_url, user_id, resume_id, requirements_id }))
  ctx.metrics.requestsRecorded.inc()
  if (ctx.notifyOnAccepted) {
    await deliver(ctx, { notification: buildAcceptedNotification(request, new Date()), provenance: provenanceOf(record), history: FIRST_TIME, record, waits, signal })
  }
}

/** `received` is the classified result: its parsed form and what the notification keeps of it as received. */
async function handleResult(ctx: PipelineContext, record: InputRecord, received: Extract<Classified, { kind: 'result' }>, signal: AbortSignal, waits: OutsideWaits): Promise<void> {
  const { result } = received
  const processingId = result.response.processing_id
  // A result without callback_url goes where its request said (contract §1).
  const callbackUrl = result.response.callback_url ?? (await step(ctx, signal, () => ctx.store.recordedRequest(processingId)))?.callback_url
  if (callbackUrl === undefined) {
    const reason = `result ${processingId} has no callback_url and no ProcessingRequest was recorded for it`
    return deadLetterPoison(ctx, provenanceOf(record), new PoisonMessageError(ErrorCodes.MESSAGE_NO_CALLBACK, reason), signal, processingId)
  }
  // Returned, not awaited: nothing is left to do here, so this frame (and the parsed result it holds) need not live as long as the delivery.
  return deliver(ctx, { notification: buildResultNotification(result, received, callbackUrl, new Date()), provenance: provenanceOf(record), history: FIRST_TIME, record, waits, signal })
}

/** The retry record's headers carry the notification's trace context (written by carry-out), so its trace goes on. */
async function handleRetry(ctx: PipelineContext, record: TracedRecord, envelope: RetryEnvelope, signal: AbortSignal, waits: OutsideWaits): Promise<void> {
  waits.stage = 'due'
  if (!(await waitOutside(waits, envelope.due_at - Date.now(), signal))) throw new Interrupted()
  const provenance: Provenance = { source: envelope.source, original: envelope.original, original_truncated: envelope.original_truncated }
  const history = { attempts: envelope.attempts, deferrals: envelope.deferrals, firstAttemptAt: envelope.first_attempt_at }
  const reservedSlotAt = envelope.reserved_slot === true ? envelope.due_at : undefined
  await deliver(ctx, { notification: fromStored(envelope.notification), provenance, history, reservedSlotAt, record, waits, signal })
}

async function deadLetterPoison(ctx: PipelineContext, provenance: Provenance, error: NotificationError, signal: AbortSignal, processingId: number | null = null): Promise<void> {
  const problem: RecordProblem = { code: error.code, reason: error.message, processingId, lastError: null }
  await step(ctx, signal, () => ctx.publisher.deadLetter(recordLetter(provenance, problem, Date.now())))
  ctx.metrics.deadLettered.inc({ code: error.code })
  ctx.logger.warn({ source: provenance.source, code: error.code, reason: error.message }, 'poison message dead-lettered')
}

/** A record whose handling hit a bug or a final error: dead-lettered with the error so its partition moves on. */
async function deadLetterUnexpected(ctx: PipelineContext, record: InputRecord, error: unknown, signal: AbortSignal): Promise<void> {
  // A final error with a code of ours (e.g. STORE_REJECTED) is named as such; anything else is a bug.
  const known = error instanceof NotificationError
  const code = known ? error.code : ErrorCodes.INTERNAL
  const reason = known ? describeError(error) : `internal error: ${describeError(error)}`
  const problem: RecordProblem = { code, reason, processingId: null, lastError: reason }
  await step(ctx, signal, () => ctx.publisher.deadLetter(recordLetter(provenanceOf(record), problem, Date.now())))
  ctx.metrics.deadLettered.inc({ code })
}

/**
 * What tracing needs of a retry record, without its value: a record's value is a view into
 * its whole fetch response, and a retry may wait for hours.
 */
function tracedPart(record: InputRecord): TracedRecord {
  const { topic, partition, offset, headers } = record
  return { topic, partition, offset, headers }
}

/** Records of one processing_id are handled in order; others need no order. */
function processingIdOf(classified: Classified): string | undefined {
  if (classified.kind === 'result') return String(classified.result.response.processing_id)
  if (classified.kind === 'request') return String(classified.request.processing_id)
  return undefined
}
