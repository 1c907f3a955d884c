// Creates the topics the service reads and writes when they are missing (contract §4), laid
// out for durability: KAFKA_TOPIC_PARTITIONS partitions and KAFKA_TOPIC_REPLICATION_FACTOR
// replicas (default 3, or the number of brokers when fewer), with min.insync.replicas = 2
// where there are 3 replicas or more, so an acknowledged write (acks=all) survives a broker.
// Topics that already exist are not changed; those with fewer replicas than the setting are
// reported. Several replicas may start at once: "already exists" is success.
import { Admin, findErrorBy } from '@platformatic/kafka'
import type { TopicLayout } from '../config.ts'
import { inputTopics, type RetryTier, type TopicNames } from '../names.ts'
import { ErrorCodes, InfrastructureError } from '../errors.ts'
import type { KafkaConnection } from './connection.ts'
import { listenToConnectionErrors } from './connection-errors.ts'

export interface TopicSpec {
  readonly name: string
  /** Topic-level settings used when the topic is created, e.g. retention.ms. */
  readonly configs?: Readonly<Record<string, string>>
}

export interface EnsuredTopics {
  readonly created: string[]
  /** The replication factor aimed at. */
  readonly replicationFactor: number
  /** Topics we rely on that have fewer replicas than that. */
  readonly underReplicated: Array<{ topic: string; replicas: number }>
  /** Why their replication could not be checked this time, if it could not. */
  readonly uncheckedBecause: string | undefined
}

const DAY_MS = 86_400_000
const DEAD_LETTER_RETENTION_MS = 30 * DAY_MS
/** Dead letters and retry records wrap a record of up to 1 MiB (JSON-escaped, plus metadata). */
const WRAPPED_RECORD_MAX_BYTES = 8 * 1024 * 1024

/** Pure: every topic the service reads or writes, with the settings of those it owns. */
export function serviceTopics(topics: TopicNames, tiers: readonly RetryTier[]): TopicSpec[] {
  return [
    ...inputTopics(topics).map((name) => ({ name })),
    { name: topics.outcomes },
    // Dead letters wait for a person to look at them and replay them.
    { name: topics.deadLetter, configs: { 'retention.ms': String(DEAD_LETTER_RETENTION_MS), 'max.message.bytes': String(WRAPPED_RECORD_MAX_BYTES) } },
    // A retry must outlive its wait by far, whatever the cluster's default retention.
    ...tiers.map((tier) => ({
      name: tier.topic,
      configs: { 'retention.ms': String(Math.max(7 * DAY_MS, 4 * tier.delayMs)), 'max.message.bytes': String(WRAPPED_RECORD_MAX_BYTES) },
    })),
  ]
}

const DEFAULT_REPLICATION_FACTOR = 3
const MIN_IN_SYNC_REPLICAS = 2

/** Pure: the replication factor to create topics with, given the setting and the cluster's size. */
export function replicationFactorFor(layout: TopicLayout, brokers: number): number {
  return layout.replicationFactor ?? Math.max(1, Math.min(DEFAULT_REPLICATION_FACTOR, brokers))
}

/** Pure: the settings a topic is created with (its own, plus min.insync.replicas where replicated). */
export function creationConfigs(spec: TopicSpec, replicationFactor: number): Array<{ name: string; value: string }> {
  const configs = { ...(replicationFactor >= 3 ? { 'min.insync.replicas': String(MIN_IN_SYNC_REPLICAS) } : {}), ...spec.configs }
  return Object.entries(configs).map(([name, value]) => ({ name, value }))
}

export async function ensureTopics(connection: KafkaConnection, clientId: string, topics: readonly TopicSpec[], layout: TopicLayout): Promise<EnsuredTopics> {
  const admin = listenToConnectionErrors(new Admin({ clientId: `${clientId}-admin`, ...connection, retries: 3, retryDelay: 500 }))
  try {
    const cluster = await admin.metadata({ topics: [] })
    const replicationFactor = replicationFactorFor(layout, cluster.brokers.size)
    const existing = new Set(await admin.listTopics())
    const wanted = [...new Map(topics.map((topic) => [topic.name, topic])).values()]
    const missing = wanted.filter((topic) => !existing.has(topic.name))
    for (const topic of missing) {
      try {
        await admin.createTopics({ topics: [topic.name], partitions: layout.partitions, replicas: replicationFactor, configs: creationConfigs(topic, replicationFactor) })
      } catch (error) {
        if (!isAlreadyExists(error)) throw error
      }
    }
    // Only topics that were there before need a look: those just created have the layout. The
    // look is a report, never a reason not to start: a topic another replica created a moment
    // ago may not be in a broker's metadata yet ("Unknown topic", which the client calls final).
    const found = wanted.filter((topic) => existing.has(topic.name))
    const underReplicated: EnsuredTopics['underReplicated'] = []
    let uncheckedBecause: string | undefined
    try {
      const described = found.length === 0 ? undefined : await admin.metadata({ topics: found.map((topic) => topic.name), forceUpdate: true })
      for (const { name } of found) {
        const replicas = Math.min(...(described?.topics.get(name)?.partitions.map((partition) => partition.replicas.length) ?? [0]))
        if (replicas < replicationFactor) underReplicated.push({ topic: name, replicas })
      }
    } catch (error) {
      uncheckedBecause = (error as Error).message
    }
    return { created: missing.map((topic) => topic.name), replicationFactor, underReplicated, uncheckedBecause }
  } catch (error) {
    throw new InfrastructureError(ErrorCodes.KAFKA_UNAVAILABLE, `cannot create topics on ${connection.bootstrapBrokers.join(',')}: ${(error as Error).message}`, { cause: error })
  } finally {
    await admin.close()
  }
}

/** The broker's TOPIC_ALREADY_EXISTS (error code 36): another replica created it first. */
function isAlreadyExists(error: unknown): boolean {
  return error instanceof Error && findErrorBy(error, 'apiId', 'TOPIC_ALREADY_EXISTS') !== null
}
