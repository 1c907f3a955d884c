// Every Redis key and Kafka topic name the service uses is built here, and only here.
import type { Config } from './config.ts'

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

export function topicNames(config: Config): TopicNames {
  return config.kafka.topics
}

/** Topics consumed, in a stable order. */
export function inputTopics(topics: TopicNames): string[] {
  return [topics.sending, topics.aiHandler]
}

/** Topics this service writes to. */
export function outputTopics(topics: TopicNames): string[] {
  return [topics.deadLetter, topics.outcomes]
}

/** The key under which a topic's own messages arrive. */
export function ourKeyFor(topics: TopicNames, topic: string): string | undefined {
  if (topic === topics.sending) return messageKeys.sending
  if (topic === topics.aiHandler) return messageKeys.aiHandler
  return undefined
}
