// Dead letters written straight to a dead-letter topic, in the shape the service writes them,
// for the replay-by-filter tests: a set where a known filter matches exactly two letters and
// each other letter misses it by one condition (origin, code, too early, at the end, poison).
import { DeadLetterReader } from '../../src/replay/dead-letters.ts'
import { plaintextConnection } from '../../src/kafka/connection.ts'
import { retryTiers } from '../../src/names.ts'
import type { DeadLetter } from '../../src/notifications/records.ts'
import { newProcessingId } from './messages.ts'
import { BROKERS, produce, type TestTopics } from './kafka.ts'

export interface FilterFixture {
  /** Each letter's callback path (under /filter/), by what it is. */
  readonly paths: { readonly matching: readonly string[]; readonly others: readonly string[] }
  /** The filter that takes exactly `matching`: ISO times, one origin, two codes. */
  readonly filter: { since: string; until: string; origin: string; code: string[] }
}

const MINUTE = 60_000

/**
 * Produces seven dead letters to `topics.KAFKA_TOPIC_DLQ`. `origin` is the receiver's
 * origin (http://127.0.0.1:port); the letter for another origin uses http://localhost:port.
 */
export async function produceFilterFixture(topics: TestTopics, origin: string): Promise<FilterFixture> {
  const start = Math.floor(Date.now() / 1000) * 1000 - 3 * 60 * MINUTE
  const at = (minutes: number) => new Date(start + minutes * MINUTE).toISOString()
  const otherOrigin = origin.replace('127.0.0.1', 'localhost')
  const given = (label: string, code: string, minutes: number, base = origin) => {
    const id = newProcessingId()
    return letter(id, { url: `${base}/filter/${label}/${id}`, code, failedAt: at(minutes) })
  }
  const matching = [given('match-gone', 'DELIVERY_GONE', 60), given('match-status', 'DELIVERY_HTTP_STATUS', 90)]
  const others = [
    given('other-origin', 'DELIVERY_GONE', 60, otherOrigin),
    given('other-code', 'DELIVERY_TIMEOUT', 60),
    given('too-early', 'DELIVERY_GONE', 10),
    given('at-until', 'DELIVERY_GONE', 120),
  ]
  const poison = { ...letter(null, { url: '', code: 'MESSAGE_NOT_JSON', failedAt: at(60) }), notification: undefined, original: '{x' }
  await produce([...matching, ...others, poison].map((value) => ({ topic: topics.KAFKA_TOPIC_DLQ, value: JSON.stringify(value) })))
  const pathOf = (dead: DeadLetter) => new URL(dead.notification?.callback_url ?? '').pathname
  return {
    paths: { matching: matching.map(pathOf), others: others.map(pathOf) },
    filter: { since: at(30), until: at(120), origin, code: ['DELIVERY_GONE', 'DELIVERY_HTTP_STATUS'] },
  }
}

/** How many records the first retry tier holds: what a replay sent (a record per replayed notification). */
export async function firstTierRecords(topics: TestTopics, retrySchedule: number[]): Promise<number> {
  const [tier] = retryTiers(topics.KAFKA_GROUP_ID, retrySchedule)
  if (!tier) throw new Error('no retry tier')
  const reader = new DeadLetterReader({ connection: plaintextConnection(BROKERS), topic: tier.topic, clientId: 'test-tier-count' })
  try {
    return await reader.count()
  } finally {
    await reader.close()
  }
}

function letter(processingId: number | null, options: { url: string; code: string; failedAt: string }): DeadLetter {
  return {
    reason: `given up (${options.code})`,
    code: options.code,
    source: { topic: 'sending', partition: 0, offset: '0', key: 'new_sending', timestamp: null },
    original: '{}',
    original_truncated: false,
    processing_id: processingId,
    notification:
      processingId === null
        ? undefined
        : { kind: 'result', processing_id: processingId, webhook_id: `processing_${processingId}`, callback_url: options.url, body: JSON.stringify({ processing_id: processingId }), is_error: false, error_code: null },
    attempts: 3,
    last_error: 'callback answered 503',
    last_status_code: 503,
    failed_at: options.failedAt,
  }
}
