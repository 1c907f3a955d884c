// What the stages work with, kept apart as the Svix worker keeps WorkerContext from
// DispatchContext: the shared dependencies, built once (PipelineContext), and the one
// notification being handled (Dispatch).
import type { ActivityLog } from '../dashboard/activity.ts'
import type { OriginAdmission } from '../delivery/origin-admission.ts'
import type { Transport } from '../delivery/transport.ts'
import { NotificationError, canRetry, describeError } from '../errors.ts'
import type { OutsideWaits } from '../kafka/in-flight-limit.ts'
import type { Publisher } from '../kafka/publisher.ts'
import { retryUntilDone } from '../lib/retry.ts'
import { sleep } from '../lib/sleep.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import type { TopicNames } from '../names.ts'
import type { Notification } from '../notifications/payload.ts'
import type { OriginControls } from '../origins/origin-controls.ts'
import type { NotificationStore } from '../store/notification-store.ts'
import type { TracedRecord } from '../telemetry/attributes.ts'
import type { Tracing } from '../telemetry/tracing.ts'
import type { Provenance } from './provenance.ts'
import type { History, RetrySchedule } from './settle.ts'

export interface PipelineContext {
  readonly store: NotificationStore
  /** Makes one attempt: the HTTP callback client. */
  readonly transport: Transport
  readonly publisher: Publisher
  /** The callback origins' gate (circuit, concurrency limit) and its short queue. */
  readonly gate: OriginAdmission
  /** Pauses, Retry-After holds and rate limits the consumer group shares per origin. */
  readonly origins: OriginControls
  readonly metrics: Metrics
  readonly logger: Logger
  /** Settled attempts, for the dashboard. */
  readonly activity: ActivityLog
  /** Spans of each notification and the trace context passed on (no-op without an SDK). */
  readonly tracing: Tracing
  readonly schedule: RetrySchedule
  readonly topics: TopicNames
  readonly notifyOnAccepted: boolean
  /** How long a claim holds: longer than one attempt can take. */
  readonly claimMs: number
  /** Wait before trying a Redis or Kafka step again. */
  readonly infrastructureRetryMs: number
}

/** One notification on its way. */
export interface Dispatch {
  readonly notification: Notification
  readonly provenance: Provenance
  readonly history: History
  /** When its origin's rate-limit slot, reserved before it waited in a retry tier, is. */
  readonly reservedSlotAt?: number
  /** The Kafka record being handled (the input record, or the retry record it waited in): its trace context and place. */
  readonly record: TracedRecord
  /** Time waited on others (attempts, rate-limit slots, another replica's claim): its consumer loop sizes what it takes in from it. */
  readonly waits: OutsideWaits
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
