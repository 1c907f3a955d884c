// Creates the topics the service reads and writes when they are missing (contract §4).
// Several replicas may start at once: "already exists" is success.
import { Admin } from '@platformatic/kafka'
import { ErrorCodes, InfrastructureError } from '../errors.ts'

export interface TopicLayout {
  readonly partitions: number
  readonly replicas: number
}

export const DEFAULT_TOPIC_LAYOUT: TopicLayout = { partitions: 6, replicas: 1 }

export async function ensureTopics(
  brokers: readonly string[],
  clientId: string,
  topics: readonly string[],
  layout: TopicLayout = DEFAULT_TOPIC_LAYOUT,
): Promise<string[]> {
  const admin = new Admin({ clientId: `${clientId}-admin`, bootstrapBrokers: [...brokers], retries: 3, retryDelay: 500 })
  try {
    const existing = new Set(await admin.listTopics())
    const missing = [...new Set(topics)].filter((topic) => !existing.has(topic))
    for (const topic of missing) {
      try {
        await admin.createTopics({ topics: [topic], partitions: layout.partitions, replicas: layout.replicas })
      } catch (error) {
        if (!isAlreadyExists(error)) throw error
      }
    }
    return missing
  } catch (error) {
    throw new InfrastructureError(ErrorCodes.KAFKA_UNAVAILABLE, `cannot create topics on ${brokers.join(',')}: ${(error as Error).message}`, { cause: error })
  } finally {
    await admin.close()
  }
}

function isAlreadyExists(error: unknown): boolean {
  return JSON.stringify(error, Object.getOwnPropertyNames(error)).includes('TOPIC_ALREADY_EXISTS') || /already exists/i.test(String(error))
}
