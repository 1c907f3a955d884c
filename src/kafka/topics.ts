// Creates the topics the service reads and writes when they are missing (contract §4).
// Several replicas may start at once: "already exists" is success.
import { Admin, findErrorBy } from '@platformatic/kafka'
import { ErrorCodes, InfrastructureError } from '../errors.ts'

export interface TopicLayout {
  readonly partitions: number
  readonly replicas: number
}

export const DEFAULT_TOPIC_LAYOUT: TopicLayout = { partitions: 6, replicas: 1 }

export interface TopicSpec {
  readonly name: string
  /** Topic-level settings used when the topic is created, e.g. retention.ms. */
  readonly configs?: Readonly<Record<string, string>>
}

export async function ensureTopics(
  brokers: readonly string[],
  clientId: string,
  topics: readonly TopicSpec[],
  layout: TopicLayout = DEFAULT_TOPIC_LAYOUT,
): Promise<string[]> {
  const admin = new Admin({ clientId: `${clientId}-admin`, bootstrapBrokers: [...brokers], retries: 3, retryDelay: 500 })
  try {
    const existing = new Set(await admin.listTopics())
    const missing = topics.filter((topic, index) => !existing.has(topic.name) && topics.findIndex((t) => t.name === topic.name) === index)
    for (const topic of missing) {
      const configs = Object.entries(topic.configs ?? {}).map(([name, value]) => ({ name, value }))
      try {
        await admin.createTopics({ topics: [topic.name], partitions: layout.partitions, replicas: layout.replicas, configs })
      } catch (error) {
        if (!isAlreadyExists(error)) throw error
      }
    }
    return missing.map((topic) => topic.name)
  } catch (error) {
    throw new InfrastructureError(ErrorCodes.KAFKA_UNAVAILABLE, `cannot create topics on ${brokers.join(',')}: ${(error as Error).message}`, { cause: error })
  } finally {
    await admin.close()
  }
}

/** The broker's TOPIC_ALREADY_EXISTS (error code 36): another replica created it first. */
function isAlreadyExists(error: unknown): boolean {
  return error instanceof Error && findErrorBy(error, 'apiId', 'TOPIC_ALREADY_EXISTS') !== null
}
