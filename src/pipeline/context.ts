// What the stages work with, kept apart as the Svix worker keeps WorkerContext from
// DispatchContext: the shared dependencies, built once (PipelineContext, each adapter seen
// through the narrow interface the pipeline uses), and the one notification being handled
// (Dispatch: its signal and span included, so no stage takes them as extra parameters).
import type { ActivityLog } from '../dashboard/activity.ts'
import type { OriginAdmission } from '../delivery/origin-admission.ts'
import type { Ticket } from '../delivery/origin-gate.ts'
import type { Transport } from '../delivery/transport.ts'
import { NotificationError, canRetry, describeError } from '../errors.ts'
import type { OutsideWaits } from '../kafka/in-flight-limit.ts'
import type { Publisher } from '../kafka/publisher.ts'
import { retryUntilDone } from '../retry.ts'
import { sleep } from '../lib/sleep.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { TopicNames } from '../names.ts'
import type { Notification } from '../notifications/payload.ts'
import type { OriginControls } from '../origins/origin-controls.ts'
import type { DeliveryStore } from '../store/notification-store.ts'
import type { TracedRecord } from '../telemetry/attributes.ts'
import type { Handling, Tracing } from '../telemetry/tracing.ts'
import type { Decision, History, RetrySchedule } from './decide.ts'
import type { Provenance } from './provenance.ts'

/** What the pipeline writes to Kafka. */
export type RecordWriter = Pick<Publisher, 'deadLetter' | 'scheduleRetry' | 'outcome'>

/** What the pipeline asks of the origin controls the consumer group shares. */
export type SharedControls = Pick<OriginControls, 'standing' | 'rateLimitFor' | 'reserve' | 'hold' | 'park' | 'pauseIfOpenTooLong'>

export interface PipelineContext {
  readonly store: DeliveryStore
  /** Makes one attempt and names each notification's destination: the HTTP callback client. */
  readonly transport: Transport
  readonly publisher: RecordWriter
  /** This replica's gate per destination (circuit, concurrency limit) and its short queue. */
  readonly admission: OriginAdmission
  /** Pauses, Retry-After holds and rate limits the consumer group shares per destination. */
  readonly origins: SharedControls
  readonly metrics: Metrics
  readonly logger: Logger
  /** Settled attempts, for the dashboard. */
  readonly activity: ActivityLog
  /** Spans of each notification and the trace context passed on (no-op without an SDK). */
  readonly tracing: Tracing
  readonly schedule: RetrySchedule
  readonly topics: TopicNames
  readonly notifyOnAccepted: boolean
  /** Per destination (its timeout may be its own, CALLBACK_DESTINATIONS_FILE): how long one attempt may take, and a claim holds. */
  readonly timing: (destination: string) => AttemptTiming
  /** Wait before trying a Redis or Kafka step again. */
  readonly infrastructureRetryMs: number
}

/** How long one attempt to a destination may take, and how long a claim made for it holds. */
export interface AttemptTiming {
  /** Longest one attempt can take (its timeout): a claim is sent on only while this much of it is left. */
  readonly attemptMs: number
  /** How long a claim holds: longer than one attempt can take. */
  readonly claimMs: number
}

/**
 * The timing of each destination from its attempt timeout, a claim holding `marginMs` longer.
 * One object per distinct timeout, made once: asked for several times per notification.
 */
export function timingFrom(attemptMsFor: (destination: string) => number, marginMs: number): (destination: string) => AttemptTiming {
  const byTimeout = new Map<number, AttemptTiming>()
  return (destination) => {
    const attemptMs = attemptMsFor(destination)
    let timing = byTimeout.get(attemptMs)
    if (timing === undefined) {
      timing = { attemptMs, claimMs: attemptMs + marginMs }
      byTimeout.set(attemptMs, timing)
    }
    return timing
  }
}

/** A notification as intake hands it to deliver(). */
export interface Incoming {
  readonly notification: Notification
  readonly provenance: Provenance
  readonly history: History
  /** When its destination's rate-limit slot, reserved before it waited in a retry tier, is. */
  readonly reservedSlotAt?: number | undefined
  /** The Kafka record being handled (the input record, or the retry record it waited in): its trace context and place. */
  readonly record: TracedRecord
  /** Time waited on others (attempts, rate-limit slots, another replica's claim): its consumer loop sizes what it takes in from it. */
  readonly waits: OutsideWaits
  /** Aborted on shutdown (or when its partition is taken away). */
  readonly signal: AbortSignal
}

/** One notification on its way: what every stage needs travels here. */
export interface Dispatch extends Incoming {
  /** The transport's key for where it goes (HTTP: the callback URL's origin). */
  readonly destination: string
  /** Its handling span: what is written on its way carries this trace context. */
  readonly handling: Handling
  /** Its rate-limit slot, once it has one. */
  slotAt: number | undefined
}

/** sleep() whose time is counted as waited on others; false when interrupted. */
export async function waitOutside(waits: OutsideWaits, ms: number, signal: AbortSignal): Promise<boolean> {
  waits.begin(Date.now())
  const slept = await sleep(ms, signal)
  waits.end(Date.now())
  return slept
}

/**
 * Runs a Redis or Kafka step until it succeeds, waiting between tries; Interrupted on
 * shutdown. A step that settles an attempt already made (`evenIfStopping`) is still tried
 * once after shutdown began, so a delivered notification is marked whenever possible.
 */
export function step<T>(ctx: PipelineContext, signal: AbortSignal, operation: () => Promise<T>, evenIfStopping = false): Promise<T> {
  return retryUntilDone(operation, { signal, waitMs: ctx.infrastructureRetryMs, evenIfStopping, retryIf: isInfrastructureOutage, onRetry: reporterFor(ctx) })
}

/** Only our own infrastructure errors that say so: anything else is a bug or final, and the record goes to the dead-letter topic instead of stalling its partition. */
function isInfrastructureOutage(error: unknown): boolean {
  return error instanceof NotificationError && canRetry(error)
}

const reporters = new WeakMap<PipelineContext, (error: unknown) => void>()

/** Made once per context: step() runs several times per notification. */
function reporterFor(ctx: PipelineContext): (error: unknown) => void {
  let report = reporters.get(ctx)
  if (report === undefined) {
    report = (error) => {
      const { code } = error as NotificationError
      ctx.metrics.infrastructureRetries.inc({ code })
      ctx.logger.warn({ code, error: describeError(error) }, 'infrastructure unavailable: will retry')
    }
    reporters.set(ctx, report)
  }
  return report
}

/**
 * Claimed for its attempt: the gate's ticket, the claim's token, when it was asked for
 * (performance.now(): monotonic, so a frozen process sees its age) and for how long.
 */
export interface Claimed {
  readonly kind: 'claimed'
  readonly ticket: Ticket
  readonly token: string
  readonly at: number
  readonly claimMs: number
}

/** Already sent: its outcome was published again. */
export const DUPLICATE = { kind: 'duplicate' } as const
/** Its destination is paused: parked until resumed. */
export const PARKED = { kind: 'parked' } as const

/** A durable end: a decision carried out, or one of the ends without a decision. */
export type End = Decision | typeof DUPLICATE | typeof PARKED
