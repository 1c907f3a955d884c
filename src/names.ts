// Every Redis key and Kafka topic name the service uses is built here, and only here.
import { formatDuration } from './duration.ts'

export const redisKeys = {
  /** Contract §3: set once the notification is delivered or finally given up. */
  processed: (processingId: number) => `processed_messages:${processingId}`,
  /** Short "in flight" claim: only its holder may send this notification. */
  inFlight: (processingId: number) => `notification_lock:${processingId}`,
  /** The callback and ids recorded from a ProcessingRequest. */
  request: (processingId: number) => `processing_requests:${processingId}`,
  /** "Accepted" notifications are deduplicated apart from the result's. */
  acceptedSent: (processingId: number) => `processed_messages:${processingId}:accepted`,
  acceptedInFlight: (processingId: number) => `notification_lock:${processingId}:accepted`,
  /** Status and attempt history shown by GET /notifications/{id}; they expire with the done marker. */
  status: (processingId: number) => `notification_status:${processingId}`,
  attempts: (processingId: number) => `notification_attempts:${processingId}`,
  acceptedStatus: (processingId: number) => `notification_status:${processingId}:accepted`,
  acceptedAttempts: (processingId: number) => `notification_attempts:${processingId}:accepted`,
} as const

/** Message keys on the input topics that belong to this service (contract §1). */
export const messageKeys = {
  sending: 'new_sending',
  aiHandler: 'new_request',
} as const

/** Redis key marking a dead letter as replayed, so a second replay run skips it. */
export const replayedKey = (dlqTopic: string, partition: number, offset: string) => `replayed:${dlqTopic}:${partition}:${offset}`

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

/** The tier that holds a notification after `attemptsMade` attempts (undefined: schedule exhausted). */
export function tierAfter(tiers: readonly RetryTier[], scheduleMs: readonly number[], attemptsMade: number): RetryTier | undefined {
  const delay = scheduleMs[attemptsMade - 1]
  return delay === undefined ? undefined : tiers.find((tier) => tier.delayMs === delay)
}

/** The key under which a topic's own messages arrive. */
export function ourKeyFor(topics: TopicNames, topic: string): string | undefined {
  if (topic === topics.sending) return messageKeys.sending
  if (topic === topics.aiHandler) return messageKeys.aiHandler
  return undefined
}
