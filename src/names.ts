// Every Redis key and Kafka topic name the service uses is built here, and only here.
import { formatDuration } from './lib/duration.ts'
import { KIND_TRAITS, type NotificationKind } from './notifications/kinds.ts'

/** The Redis keys that hold one notification's state; each kind has its own (suffix from the kinds table). */
export interface NotificationKeys {
  /** Contract §3 `processed_messages:{processing_id}`: set once delivered or finally given up. */
  readonly done: string
  /** Short "in flight" claim: only its holder may send this notification. */
  readonly claim: string
  /** Status and attempt history shown by GET /notifications/{id}; they expire with the done marker. */
  readonly status: string
  readonly attempts: string
}

/**
 * The done marker keeps the contract's name and value exactly; the other keys carry it as a
 * hash tag (`notification_lock:{processed_messages:42}`), so in Redis Cluster all of a
 * notification's keys share its slot and one script can touch them together.
 */
export function notificationKeys(kind: NotificationKind, processingId: number): NotificationKeys {
  const done = `processed_messages:${processingId}${KIND_TRAITS[kind].keySuffix}`
  return {
    done,
    claim: `notification_lock:{${done}}`,
    status: `notification_status:{${done}}`,
    attempts: `notification_attempts:{${done}}`,
  }
}

/** The callback and ids recorded from a ProcessingRequest. */
export const requestKey = (processingId: number) => `processing_requests:${processingId}`

/** Marks a dead letter as replayed, so a second replay run skips it. */
export const replayedKey = (dlqTopic: string, partition: number, offset: string) => `replayed:${dlqTopic}:${partition}:${offset}`

/**
 * What the consumer group shares about callback origins (pauses, Retry-After holds, rate
 * slots, parked notifications). Every key carries the hash tag `{origins}`: in Redis Cluster
 * they live in one slot, so one script can read a pause, a hold and a rate slot together.
 */
export const originKeys = {
  /** Hash: origin → JSON of its pause (by operator or automatically, since, reason). */
  pauses: 'origin_pauses:{origins}',
  /** Hash: origin → epoch ms until which it asked not to be called (Retry-After). */
  holds: 'origin_holds:{origins}',
  /** Set: origins with notifications parked while paused. */
  parkedOrigins: 'origin_parked_set:{origins}',
  /** GCRA: the origin's theoretical arrival time of the next send (epoch ms, Redis clock). */
  rate: (origin: string) => `origin_rate:{origins}:${origin}`,
  /** List: the origin's parked notifications, oldest first. */
  parked: (origin: string) => `origin_parked:{origins}:${origin}`,
  /** Held by the replica that moves an origin's parked notifications back to a retry tier. */
  drainLock: (origin: string) => `origin_drain_lock:{origins}:${origin}`,
  /** Pub/sub: a pause or hold changed (the message is the origin). */
  changes: 'origin_changes',
} as const

/** Message keys on the input topics that belong to this service (contract §1). */
export const messageKeys = {
  sending: 'new_sending',
  aiHandler: 'new_request',
} as const

export interface TopicNames {
  readonly sending: string
  readonly aiHandler: string
  readonly deadLetter: string
  readonly outcomes: string
}

/** Topics consumed, in a stable order. */
export function inputTopics(topics: TopicNames): string[] {
  return [topics.sending, topics.aiHandler]
}

/** The key under which a topic's own messages arrive. */
export function ourKeyFor(topics: TopicNames, topic: string): string | undefined {
  if (topic === topics.sending) return messageKeys.sending
  if (topic === topics.aiHandler) return messageKeys.aiHandler
  return undefined
}

/**
 * A retry tier: a topic where notifications wait for one delay of RETRY_SCHEDULE, and the
 * consumer group that reads it. One tier per distinct delay; they belong to this service's
 * group, so two deployments with different groups never share retries.
 */
export interface RetryTier {
  readonly delayMs: number
  readonly topic: string
  readonly groupId: string
}

export function retryTiers(groupId: string, scheduleMs: readonly number[]): RetryTier[] {
  const base = groupId.replace(/[^A-Za-z0-9._-]/g, '_')
  return [...new Set(scheduleMs)].map((delayMs) => ({
    delayMs,
    topic: `${base}.retry.${formatDuration(delayMs)}`,
    groupId: `${groupId}.retry.${formatDuration(delayMs)}`,
  }))
}
