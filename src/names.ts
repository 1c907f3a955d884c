// Every Redis key and Kafka topic name the service uses is built here, and only here.
import { formatDuration } from './lib/duration.ts'
import { KIND_TRAITS, type NotificationKind } from './notifications/kinds.ts'

/** The Redis keys that hold one notification's state; each kind has its own (suffix from the kinds table). */
export interface NotificationKeys {
  /** Contract §3 `processed_messages:{processing_id}`: set once delivered or finally given up. */
  readonly done: string
  /** Short "in flight" claim: only its holder may send this notification. */
  readonly claim: string
  /** Status with its attempt history inside, shown by GET /notifications/{id}; it expires with the done marker. */
  readonly status: string
  /** The attempt history as versions before 2026-12-05 kept it (a list): only read now, until it expires. */
  readonly attempts: string
  /**
   * The dead letter of a notification being given up, held from before its done marker is set
   * until the letter is written: a copy read again after a crash in between writes it.
   */
  readonly letter: string
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
    letter: `notification_dead_letter:{${done}}`,
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

/**
 * The input topics (contract §1), one row each: the variable that names the topic (its
 * default in src/config/defaults.ts), the Kafka key its own records carry, and what they
 * hold. A record is still recognised by its shape (src/messages/classify.ts): the key only
 * tells ours from another service's.
 */
export const INPUT_TOPICS = [
  { variable: 'KAFKA_TOPIC_FOR_SENDING', key: 'new_sending', carries: 'ProcessingResult' },
  { variable: 'KAFKA_TOPIC_FOR_AI_HANDLER', key: 'new_request', carries: 'ProcessingRequest, or a ProcessingResult' },
] as const

/** An input topic as configured: its name, and the key of the records that are ours. */
export interface InputTopic {
  readonly name: string
  readonly key: string
}

export interface TopicNames {
  /** In the order of INPUT_TOPICS. */
  readonly input: readonly InputTopic[]
  readonly deadLetter: string
  readonly outcomes: string
}

/** Topics consumed, in a stable order. */
export function inputTopics(topics: TopicNames): string[] {
  return topics.input.map((topic) => topic.name)
}

/** The key under which a topic's own messages arrive. */
export function ourKeyFor(topics: TopicNames, topic: string): string | undefined {
  for (const input of topics.input) if (input.name === topic) return input.key
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

/**
 * The tiers of a schedule, in its order; the first is where a notification's first retry
 * waits, and where a replayed or resumed one goes. Throws on an empty schedule (the
 * configuration never makes one).
 */
export function retryTiers(groupId: string, scheduleMs: readonly number[]): [RetryTier, ...RetryTier[]] {
  const base = groupId.replace(/[^A-Za-z0-9._-]/g, '_')
  const [first, ...rest] = [...new Set(scheduleMs)].map((delayMs) => ({
    delayMs,
    topic: `${base}.retry.${formatDuration(delayMs)}`,
    groupId: `${groupId}.retry.${formatDuration(delayMs)}`,
  }))
  if (first === undefined) throw new Error('RETRY_SCHEDULE is empty')
  return [first, ...rest]
}

/** The consumer loops of one replica: one for the input topics, and one per retry tier. */
export function consumerLoopCount(groupId: string, scheduleMs: readonly number[]): number {
  return 1 + retryTiers(groupId, scheduleMs).length
}
