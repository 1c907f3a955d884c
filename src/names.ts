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
 * What one consumer group (KAFKA_GROUP_ID) shares about callback origins: pauses,
 * Retry-After holds, rate slots, parked notifications. Every key carries the hash tag
 * `{origins:<group>}`: in Redis Cluster a group's origin keys live in one slot, so one script
 * can read a hold and a rate slot together. Two deployments on one Redis keep their own.
 */
export interface OriginKeys {
  /** Hash: origin → JSON of its pause (by an operator or automatically, since, reason). */
  readonly pauses: string
  /** Hash: origin → epoch ms until which it asked not to be called (Retry-After). */
  readonly holds: string
  /** Set: origins with notifications parked while paused. */
  readonly parkedOrigins: string
  /** GCRA: the origin's theoretical arrival time of its next send (epoch ms, Redis's clock). */
  rate(origin: string): string
  /** List: the origin's parked notifications (retry records), oldest first. */
  parked(origin: string): string
  /** Held by the replica that moves an origin's parked notifications back to a retry tier. */
  drainLock(origin: string): string
  /** Pub/sub channel: a pause or hold changed (the message is the origin). */
  readonly changes: string
}

export function originKeys(groupId: string): OriginKeys {
  const tag = `{origins:${groupId}}`
  return {
    pauses: `origin_pauses:${tag}`,
    holds: `origin_holds:${tag}`,
    parkedOrigins: `origin_parked_set:${tag}`,
    rate: (origin) => `origin_rate:${tag}:${origin}`,
    parked: (origin) => `origin_parked:${tag}:${origin}`,
    drainLock: (origin) => `origin_drain_lock:${tag}:${origin}`,
    changes: `origin_changes:${groupId}`,
  }
}

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
