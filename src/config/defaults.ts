// The defaults of the configuration, each written once: the value a variable takes when it
// is unset (as text, read by the same parser as a value given: docs/configuration.md and
// .env.example show exactly these), the tuning that is not in the environment, and the
// bounds other modules share with the schema. No imports beyond types: src/node-flags.ts
// and src/runtime read this file before anything else is loaded.
import type { LogLevel, Mode, Tuning } from './types.ts'

/**
 * CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: the most attempts (HTTP/1.1: connections) one origin's
 * adaptive limit may reach. At 50 ms an answer, 256 allow ~5,000/s (Little's law: 2,000/s
 * needs 100 in flight), a quarter of one consumer loop's 1,000 records.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_ORIGIN = 256

/** MEMORY_LIMIT_MB: the values accepted (below 64 MB node itself does not fit). */
export const MEMORY_LIMIT_MB_RANGE = { min: 64, max: 1024 * 1024 } as const

/** The value of each variable that has one when unset, as it would be written in `.env`. */
export const DEFAULTS = {
  MODE: 'DEV',
  KAFKA_BOOTSTRAP_SERVERS: '127.0.0.1:9092',
  KAFKA_GROUP_ID: 'notification_service',
  KAFKA_TOPIC_FOR_SENDING: 'sending',
  KAFKA_TOPIC_FOR_AI_HANDLER: 'AI_handler',
  KAFKA_TOPIC_DLQ: 'notifications.dlq',
  KAFKA_TOPIC_FOR_NOTIFICATIONS: 'notifications',
  KAFKA_SECURITY_PROTOCOL: 'PLAINTEXT',
  KAFKA_TOPIC_PARTITIONS: '6',
  REDIS_HOST: '127.0.0.1',
  REDIS_PORT: '6379',
  STORAGE_TIME_PROCESSED_MESSAGES: '259200',
  CALLBACK_TIMEOUT_MS: '10000',
  RETRY_SCHEDULE: '5s,30s,2m,10m,30m,1h,3h,6h,12h',
  CALLBACK_AUTO_PAUSE_AFTER: '24h',
  CALLBACK_MAX_CONNECTIONS_PER_ORIGIN: String(DEFAULT_MAX_CONNECTIONS_PER_ORIGIN),
  NOTIFY_ON_ACCEPTED: 'false',
  HTTP_PORT: '8004',
  LOG_DIR: 'logs',
} as const

/** LOG_LEVEL when unset: by MODE. */
export const DEFAULT_LOG_LEVEL: Readonly<Record<Mode, LogLevel>> = { DEV: 'info', TEST: 'warn', PROD: 'info' }

/**
 * The tuning of a replica without a memory limit. src/runtime/memory-budget.ts scales the
 * in-flight and fetch sizes down from these under a limit.
 */
export const DEFAULT_TUNING: Tuning = {
  maxInFlight: 1000,
  maxInFlightBytes: 32 * 1024 * 1024,
  commitIntervalMs: 200,
  maxResponseBytes: 64 * 1024,
  shutdownGraceMs: 20_000,
  infrastructureRetryMs: 1000,
  inputFetchMinBytes: 64 * 1024,
  inputFetchMaxWaitMs: 10,
  fetchMaxBytes: 2 * 1024 * 1024,
  fetchMaxBytesPerPartition: 256 * 1024,
  streamHighWaterMark: 512,
}
