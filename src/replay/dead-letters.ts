// Reads the dead-letter topic without joining a consumer group: the whole topic (replay
// CLI), its newest letters or one letter at an offset (dashboard). Plain Fetch requests to
// each partition's leader, so a look at the topic costs no rebalance and leaves no group behind.
import { Consumer, stringDeserializers } from '@platformatic/kafka'
import type { DeadLetter } from '../kafka/publisher.ts'

export interface StoredDeadLetter {
  readonly partition: number
  readonly offset: string
  /** When the broker stored it (ms since epoch). */
  readonly timestamp?: number
  /** Undefined when the record is not a dead letter this service wrote. */
  readonly letter: DeadLetter | undefined
}

interface PartitionRange {
  readonly partition: number
  readonly start: bigint
  readonly end: bigint
}

const FETCH_MAX_BYTES = 8 * 1024 * 1024
const IS_CONTROL_BATCH = 0b10_0000

export class DeadLetterReader {
  readonly #consumer: Consumer<string, string, string, string>
  readonly #topic: string

  constructor(options: { brokers: readonly string[]; topic: string; clientId: string }) {
    this.#topic = options.topic
    // A group id is required by the client; it is never joined (no consume(), no commit()).
    this.#consumer = new Consumer({ clientId: options.clientId, groupId: `${options.clientId}-reader`, bootstrapBrokers: [...options.brokers], deserializers: stringDeserializers })
  }

  get topic(): string {
    return this.#topic
  }

  /** How many dead letters the topic holds now. */
  async count(): Promise<number> {
    return (await this.#ranges()).reduce((sum, range) => sum + Number(range.end - range.start), 0)
  }

  /**
   * Every dead letter there is now, oldest first per partition, handed over one fetch at a
   * time (the topic may be far larger than memory): the next fetch waits for `onBatch`.
   */
  async scan(onBatch: (letters: StoredDeadLetter[], progress: { read: number; total: number }) => Promise<void>): Promise<{ read: number; total: number }> {
    const ranges = await this.#ranges()
    const progress = { read: 0, total: ranges.reduce((sum, range) => sum + Number(range.end - range.start), 0) }
    for (const range of ranges) {
      await this.#read(range.partition, range.start, range.end, async (letters) => {
        progress.read += letters.length
        await onBatch(letters, progress)
      })
    }
    return progress
  }

  /** The newest `limit` dead letters over all partitions, newest first. */
  async latest(limit: number): Promise<StoredDeadLetter[]> {
    const letters: StoredDeadLetter[] = []
    for (const range of await this.#ranges()) {
      const from = range.end - BigInt(limit) > range.start ? range.end - BigInt(limit) : range.start
      await this.#read(range.partition, from, range.end, (batch) => {
        letters.push(...batch)
        return Promise.resolve()
      })
    }
    return letters.sort((a, b) => (b.timestamp ?? 0) - (a.timestamp ?? 0)).slice(0, limit)
  }

  /** The record at one offset, or undefined when there is none (deleted by retention, or never written). */
  async at(partition: number, offset: bigint): Promise<StoredDeadLetter | undefined> {
    const range = (await this.#ranges()).find((candidate) => candidate.partition === partition)
    if (!range || offset < range.start || offset >= range.end) return undefined
    let found: StoredDeadLetter | undefined
    await this.#read(partition, offset, offset + 1n, (letters) => {
      found = letters[0]
      return Promise.resolve()
    })
    return found
  }

  async close(): Promise<void> {
    await this.#consumer.close(true)
  }

  async #ranges(): Promise<PartitionRange[]> {
    const topics = [this.#topic]
    const [ends, starts] = await Promise.all([this.#consumer.listOffsets({ topics }), this.#consumer.listOffsets({ topics, timestamp: -2n })])
    return (ends.get(this.#topic) ?? []).map((end, partition) => ({ partition, start: starts.get(this.#topic)?.[partition] ?? 0n, end }))
  }

  /** Reads [from, until) of one partition from its leader, one fetch response at a time. */
  async #read(partition: number, from: bigint, until: bigint, onLetters: (letters: StoredDeadLetter[]) => Promise<void>): Promise<void> {
    let next = from
    while (next < until) {
      const metadata = await this.#consumer.metadata({ topics: [this.#topic] })
      const topic = metadata.topics.get(this.#topic)
      const leader = topic?.partitions[partition]?.leader
      if (!topic || leader === undefined) throw new Error(`no leader for ${this.#topic}-${partition}`)
      const response = await this.#consumer.fetch({
        node: leader,
        maxWaitTime: 0,
        maxBytes: FETCH_MAX_BYTES,
        topics: [{ topicId: topic.id, partitions: [{ partition, fetchOffset: next, partitionMaxBytes: FETCH_MAX_BYTES, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      })
      const answer = response.responses[0]?.partitions[0]
      if (answer && answer.errorCode !== 0) throw new Error(`fetching ${this.#topic}-${partition} at offset ${next}: Kafka error code ${answer.errorCode}`)
      const batches = answer?.records ?? []
      const before = next
      const letters: StoredDeadLetter[] = []
      for (const batch of batches) {
        next = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n
        if (batch.attributes & IS_CONTROL_BATCH) continue
        for (const record of batch.records) {
          const offset = batch.firstOffset + BigInt(record.offsetDelta)
          if (offset < from || offset >= until) continue
          letters.push({ partition, offset: String(offset), timestamp: Number(batch.firstTimestamp + record.timestampDelta), letter: parseLetter(record.value?.toString('utf8')) })
        }
      }
      if (letters.length > 0) await onLetters(letters)
      if (next === before) throw new Error(`no records at ${this.#topic}-${partition} offset ${next}`)
    }
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
