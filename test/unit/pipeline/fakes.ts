// In-memory stand-ins for what the pipeline depends on (the narrow interfaces of
// PipelineContext): a scripted transport, a store, a record writer and the shared origin
// controls, each keeping a log of what it was asked, in order. The origin gate and its
// admission are the real, pure ones.
import { ActivityLog } from '../../../src/dashboard/activity.ts'
import { ANSWERS, answerToStatus } from '../../../src/delivery/answers.ts'
import { originOf } from '../../../src/delivery/http-client.ts'
import { OriginAdmission } from '../../../src/delivery/origin-admission.ts'
import { OriginGate, type OriginGateOptions } from '../../../src/delivery/origin-gate.ts'
import type { AttemptOutcome, Transport } from '../../../src/delivery/transport.ts'
import { DeliveryError, ErrorCodes } from '../../../src/errors.ts'
import { OutsideWaits } from '../../../src/kafka/in-flight-limit.ts'
import { createLogger } from '../../../src/log.ts'
import { createMetrics } from '../../../src/metrics.ts'
import { retryTiers } from '../../../src/names.ts'
import type { Notification } from '../../../src/notifications/payload.ts'
import type { DeadLetter, Outcome, RetryEnvelope } from '../../../src/notifications/records.ts'
import type { OriginStanding } from '../../../src/origins/origin-controls.ts'
import type { AttemptTiming, Incoming, PipelineContext, RecordWriter, SharedControls } from '../../../src/pipeline/context.ts'
import { FIRST_TIME, type History } from '../../../src/pipeline/decide.ts'
import type { Provenance } from '../../../src/pipeline/provenance.ts'
import type { ClaimResult, DeliveryStore, KnownHistory, NotificationStatus, RecordedRequest, Settlement } from '../../../src/store/notification-store.ts'
import type { TraceHeaders } from '../../../src/telemetry/tracing.ts'
import { Tracing } from '../../../src/telemetry/tracing.ts'

export const DESTINATION = 'http://client.example'
export const CALLBACK_URL = `${DESTINATION}/hook`
export const SCHEDULE_MS = [1000, 5000]

/** What the fakes were asked, in order: the order of durable steps is part of the contract. */
export type Step =
  | { kind: 'claim'; processingId: number; claimMs: number; known: KnownHistory }
  | { kind: 'send'; notification: Notification; at: number }
  | { kind: 'settlement'; settlement: Settlement }
  | { kind: 'retry'; topic: string; envelope: RetryEnvelope; trace: TraceHeaders | undefined }
  | { kind: 'dead-letter'; letter: DeadLetter }
  | { kind: 'outcome'; outcome: Outcome }
  | { kind: 'park'; origin: string; record: RetryEnvelope }
  | { kind: 'hold'; origin: string; ms: number }
  | { kind: 'reserve'; origin: string }
  | { kind: 'request'; processingId: number; request: RecordedRequest }
  | { kind: 'hold-letter'; processingId: number; letter: DeadLetter }
  | { kind: 'drop-letter'; processingId: number }

export class Log {
  readonly steps: Step[] = []
  of<K extends Step['kind']>(kind: K): Array<Extract<Step, { kind: K }>> {
    return this.steps.filter((step): step is Extract<Step, { kind: K }> => step.kind === kind)
  }
  /** The first step of a kind; fails the test when there is none. */
  first<K extends Step['kind']>(kind: K): Extract<Step, { kind: K }> {
    const found = this.of(kind)[0]
    if (found === undefined) throw new Error(`no ${kind} in ${this.kinds().join(', ')}`)
    return found
  }
  kinds(): string[] {
    return this.steps.map((step) => step.kind)
  }
}

export function ok(statusCode = 200): AttemptOutcome {
  return { ok: true, answer: 'success', statusCode, durationMs: 5 }
}

export function failed(statusCode: number, retryAfterSeconds?: number): AttemptOutcome {
  const answer = answerToStatus(statusCode)
  const rule = ANSWERS[answer]
  const error = new DeliveryError(rule.code ?? ErrorCodes.DELIVERY_HTTP_STATUS, `callback answered ${statusCode}`, rule.verdict === 'retried', {
    statusCode,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  })
  return { ok: false, answer, error, durationMs: 5 }
}

export class FakeTransport implements Transport {
  readonly attemptName = 'POST'
  /** Answers given in turn; the last is repeated. */
  answers: AttemptOutcome[] = [ok()]
  readonly log: Log
  constructor(log: Log) {
    this.log = log
  }
  destinationOf(notification: Notification): string {
    return originOf(notification.callbackUrl)
  }
  send(notification: Notification): Promise<AttemptOutcome> {
    this.log.steps.push({ kind: 'send', notification, at: Date.now() })
    const answer = this.answers.length > 1 ? this.answers.shift()! : this.answers[0]!
    return Promise.resolve(answer)
  }
  close(): Promise<void> {
    return Promise.resolve()
  }
}

export class FakeStore implements DeliveryStore {
  /** Claim answers given in turn (each may be delayed); then 'claimed'. */
  claims: Array<{ result: ClaimResult; delayMs?: number }> = []
  done: NotificationStatus | undefined
  readonly requests = new Map<number, RecordedRequest>()
  failSettlements = false
  /** Another copy settled first: saveSettlement answers that this one does not stand. */
  settledByAnother = false
  /** Called as a settlement is saved (a shutdown beginning then, say). */
  duringSettlement: (() => void) | undefined
  /** Held dead letters, by processing id. */
  readonly letters = new Map<number, string>()
  readonly log: Log
  constructor(log: Log) {
    this.log = log
  }
  async claim(_kind: string, processingId: number, claimMs: number, known: KnownHistory): Promise<ClaimResult> {
    this.log.steps.push({ kind: 'claim', processingId, claimMs, known })
    const next = this.claims.shift() ?? { result: { status: 'claimed', token: 'token-1' } }
    if (next.delayMs !== undefined) await new Promise((resolve) => setTimeout(resolve, next.delayMs))
    return next.result
  }
  saveSettlement(settlement: Settlement): Promise<boolean> {
    this.log.steps.push({ kind: 'settlement', settlement })
    this.duringSettlement?.()
    return this.failSettlements ? Promise.reject(new Error('settlement refused')) : Promise.resolve(!this.settledByAnother)
  }
  holdLetter(_kind: string, processingId: number, letter: string): Promise<void> {
    this.log.steps.push({ kind: 'hold-letter', processingId, letter: JSON.parse(letter) as DeadLetter })
    this.letters.set(processingId, letter)
    return Promise.resolve()
  }
  heldLetter(_kind: string, processingId: number): Promise<string | undefined> {
    return Promise.resolve(this.letters.get(processingId))
  }
  dropLetter(_kind: string, processingId: number): Promise<void> {
    this.log.steps.push({ kind: 'drop-letter', processingId })
    this.letters.delete(processingId)
    return Promise.resolve()
  }
  doneStatus(): Promise<NotificationStatus | undefined> {
    return Promise.resolve(this.done)
  }
  recordRequest(processingId: number, request: RecordedRequest): Promise<void> {
    this.log.steps.push({ kind: 'request', processingId, request })
    this.requests.set(processingId, request)
    return Promise.resolve()
  }
  recordedRequest(processingId: number): Promise<RecordedRequest | undefined> {
    return Promise.resolve(this.requests.get(processingId))
  }
}

export class FakeWriter implements RecordWriter {
  readonly log: Log
  constructor(log: Log) {
    this.log = log
  }
  deadLetter(letter: DeadLetter): Promise<void> {
    this.log.steps.push({ kind: 'dead-letter', letter })
    return Promise.resolve()
  }
  scheduleRetry(topic: string, envelope: RetryEnvelope, trace?: TraceHeaders): Promise<void> {
    this.log.steps.push({ kind: 'retry', topic, envelope, trace })
    return Promise.resolve()
  }
  outcome(outcome: Outcome): Promise<void> {
    this.log.steps.push({ kind: 'outcome', outcome })
    return Promise.resolve()
  }
}

export class FakeControls implements SharedControls {
  standingIs: OriginStanding = { kind: 'open' }
  perSecond: number | undefined
  /** Slots reserve() gives, in turn, as offsets from now. */
  slotsInMs: number[] = []
  pauseWhenOpen = false
  readonly log: Log
  constructor(log: Log) {
    this.log = log
  }
  standing(): OriginStanding {
    return this.standingIs
  }
  rateLimitFor(): number | undefined {
    return this.perSecond
  }
  reserve(origin: string): Promise<number> {
    this.log.steps.push({ kind: 'reserve', origin })
    return Promise.resolve(Date.now() + (this.slotsInMs.shift() ?? 0))
  }
  hold(origin: string, ms: number): Promise<void> {
    this.log.steps.push({ kind: 'hold', origin, ms })
    return Promise.resolve()
  }
  park(origin: string, record: string): Promise<void> {
    this.log.steps.push({ kind: 'park', origin, record: JSON.parse(record) as RetryEnvelope })
    return Promise.resolve()
  }
  pauseIfOpenTooLong(): Promise<boolean> {
    return Promise.resolve(this.pauseWhenOpen)
  }
}

export const GATE: OriginGateOptions = {
  window: 2,
  failureThreshold: 1,
  openMs: 30_000,
  maxOpenMs: 60_000,
  concurrency: { initial: 1, min: 1, max: 1, backoff: 0.5, latencyTolerance: 2 },
  maxWaitMs: 1000,
  unansweredAfterMs: 0,
  forgetAfterMs: 600_000,
}

/** The default callback timeout and the claim app.ts derives from it. */
export const TIMING: AttemptTiming = { attemptMs: 10_000, claimMs: 25_000 }

export interface Fixture {
  readonly ctx: PipelineContext
  readonly log: Log
  readonly transport: FakeTransport
  readonly store: FakeStore
  readonly controls: FakeControls
  readonly gate: OriginGate
}

export function fixture(overrides: Partial<PipelineContext> = {}): Fixture {
  const log = new Log()
  const transport = new FakeTransport(log)
  const store = new FakeStore(log)
  const controls = new FakeControls(log)
  const gate = new OriginGate(GATE)
  const ctx: PipelineContext = {
    store,
    transport,
    publisher: new FakeWriter(log),
    admission: new OriginAdmission(gate),
    origins: controls,
    metrics: createMetrics({ defaultMetrics: false, sources: { inFlight: () => [], lag: () => [], circuits: () => [], concurrencyLimits: () => [] } }),
    logger: createLogger({ level: 'silent', dir: undefined, stdout: false }).logger,
    activity: new ActivityLog(),
    tracing: new Tracing(undefined, []),
    schedule: { policy: { scheduleMs: SCHEDULE_MS, jitter: 0, slowDownFloorMs: 60_000 }, tiers: retryTiers('unit', SCHEDULE_MS) },
    topics: { input: [{ name: 'sending', key: 'new_sending' }, { name: 'AI_handler', key: 'new_request' }], deadLetter: 'dead-letters', outcomes: 'outcomes' },
    notifyOnAccepted: false,
    timing: () => TIMING,
    infrastructureRetryMs: 10,
    ...overrides,
  }
  return { ctx, log, transport, store, controls, gate }
}

let nextId = 1
export function notification(overrides: Partial<Notification> = {}): Notification {
  const processingId = nextId++
  return { kind: 'result', processingId, webhookId: `processing_${processingId}`, callbackUrl: CALLBACK_URL, body: '{}', isError: false, ...overrides }
}

export const PROVENANCE: Provenance = {
  source: { topic: 'sending', partition: 0, offset: '7', key: 'new_sending', timestamp: null },
  original: '{"original":true}',
  original_truncated: false,
}

export function incoming(signal: AbortSignal = new AbortController().signal, history: History = FIRST_TIME, more: Partial<Incoming> = {}): Incoming {
  return {
    notification: notification(),
    provenance: PROVENANCE,
    history,
    record: { topic: 'sending', partition: 0, offset: 7n, headers: new Map() },
    waits: new OutsideWaits(),
    signal,
    ...more,
  }
}
