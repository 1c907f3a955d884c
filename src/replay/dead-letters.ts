// Reads the dead-letter topic from its beginning to its current end.
import { randomUUID } from 'node:crypto'
import { Consumer, MessagesStreamModes, stringDeserializers } from '@platformatic/kafka'
import type { DeadLetter } from '../kafka/publisher.ts'

export interface StoredDeadLetter {
  readonly partition: number
  readonly offset: string
  /** Undefined when the record is not a dead letter this service wrote. */
  readonly letter: DeadLetter | undefined
}

export async function readDeadLetters(
  brokers: readonly string[],
  topic: string,
  onProgress: (read: number, total: number) => void = () => undefined,
): Promise<StoredDeadLetter[]> {
  const consumer = new Consumer({
    clientId: 'notification-replay',
    groupId: `notification-replay-${randomUUID()}`,
    bootstrapBrokers: [...brokers],
    deserializers: stringDeserializers,
  })
  try {
    const ends = (await consumer.listOffsets({ topics: [topic] })).get(topic) ?? []
    const starts = (await consumer.listOffsets({ topics: [topic], timestamp: -2n })).get(topic) ?? []
    const total = ends.reduce((sum, end, partition) => sum + Number(end - (starts[partition] ?? 0n)), 0)
    const letters: StoredDeadLetter[] = []
    onProgress(0, total)
    if (total === 0) return letters

    const remaining = new Set(ends.flatMap((end, partition) => (end > (starts[partition] ?? 0n) ? [partition] : [])))
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 500 })
    try {
      for await (const message of stream) {
        letters.push({ partition: message.partition, offset: String(message.offset), letter: parseLetter(message.value) })
        onProgress(letters.length, total)
        if (message.offset + 1n >= (ends[message.partition] ?? 0n)) remaining.delete(message.partition)
        if (remaining.size === 0) break
      }
    } finally {
      await stream.close().catch(() => undefined)
    }
    return letters
  } finally {
    await consumer.close(true)
  }
}

function parseLetter(value: string | undefined): DeadLetter | undefined {
  if (value === undefined) return undefined
  try {
    const parsed = JSON.parse(value) as DeadLetter
    return typeof parsed === 'object' && parsed !== null && typeof parsed.reason === 'string' && typeof parsed.source === 'object' ? parsed : undefined
  } catch {
    return undefined
  }
}
