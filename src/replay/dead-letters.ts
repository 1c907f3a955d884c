// Reads the dead-letter topic without joining a consumer group: the whole topic (replay
// CLI), its newest letters or one letter at an offset (dashboard). Plain Fetch requests to
// each partition's leader, so a look at the topic costs no rebalance and leaves no group behind.
import { Consumer, stringDeserializers } from '@platformatic/kafka'
import type { KafkaConnection } from '../kafka/connection.ts'
import type { DeadLetter } from '../notifications/records.ts'
import { listenToConnectionErrors } from '../kafka/connection-errors.ts'

export interface StoredDeadLetter {
  readonly partition: number
  readonly offset: string
  /** When the broker stored it (ms since epoch). */
  readonly timestamp?: number
  /** Undefined when the record is not a dead letter this service wrote. */
  readonly letter: DeadLetter | undefined
}

export interface ScanProgress {
  read: number
  total: number
}

interface PartitionRange {
  readonly partition: number
  readonly start: bigint
  readonly end: bigint
}

const FETCH_MAX_BYTES = 8 * 1024 * 1024
/** latest(): records asked for per fetch, and bytes per fetch (the broker still sends at least one whole batch). */
const LATEST_STEP = 10
const LATEST_FETCH_BYTES = 1024 * 1024
/** latest(): stop going back in a partition once this much was read (a dashboard polls it). */
export const LATEST_BYTES_PER_PARTITION = 4 * 1024 * 1024
const IS_CONTROL_BATCH = 0b10_0000

export class DeadLetterReader {
  readonly #consumer: Consumer<string, string, string, string>
  readonly #topic: string

  constructor(options: { connection: KafkaConnection; topic: string; clientId: string }) {
    this.#topic = options.topic
    // A group id is required by the client; it is never joined (no consume(), no commit()).
    this.#consumer = listenToConnectionErrors(new Consumer({ clientId: options.clientId, groupId: `${options.clientId}-reader`, ...options.connection, deserializers: stringDeserializers }))
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
   * With `upTo` (the `ends` of an earlier scan), only what that scan saw: nothing written since.
   */
  async scan(onBatch: (letters: StoredDeadLetter[], progress: ScanProgress) => Promise<void>, upTo?: ReadonlyMap<number, bigint>): Promise<ScanProgress & { ends: Map<number, bigint> }> {
    const ranges = (await this.#ranges()).map((range) => {
      const bound = upTo === undefined ? range.end : (upTo.get(range.partition) ?? range.start)
      return { ...range, end: bound < range.end ? bound : range.end }
    })
    const progress = { read: 0, total: ranges.reduce((sum, range) => sum + Number(range.end > range.start ? range.end - range.start : 0n), 0) }
    for (const range of ranges) {
      if (range.end <= range.start) continue
      await this.#read(range.partition, range.start, range.end, async (letters) => {
        progress.read += letters.length
        await onBatch(letters, progress)
      })
    }
    return { ...progress, ends: new Map(ranges.map((range) => [range.partition, range.end])) }
  }

  /**
   * The newest `limit` dead letters over all partitions, newest first. Each partition is read
   * backwards from its end, a few records at a time, until `limit` or `maxBytesPerPartition`
   * is reached: large letters make the list shorter, never the read unbounded.
   */
  async latest(limit: number, maxBytesPerPartition = LATEST_BYTES_PER_PARTITION): Promise<StoredDeadLetter[]> {
    const letters: StoredDeadLetter[] = []
    for (const range of await this.#ranges()) {
      let upper = range.end
      let taken = 0
      let bytes = 0
      while (upper > range.start && taken < limit && bytes < maxBytesPerPartition) {
        const step = BigInt(Math.min(LATEST_STEP, limit - taken))
        const from = upper - step > range.start ? upper - step : range.start
        await this.#read(
          range.partition,
          from,
          upper,
          (batch, batchBytes) => {
            letters.push(...batch)
            taken += batch.length
            bytes += batchBytes
            return Promise.resolve()
          },
          LATEST_FETCH_BYTES,
        )
        upper = from
      }
    }
    return letters.sort((a, b) => (b.timestamp ?? 0) - (a.timestamp ?? 0) || Number(BigInt(b.offset) - BigInt(a.offset))).slice(0, limit)
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
  async #read(
    partition: number,
    from: bigint,
    until: bigint,
    onLetters: (letters: StoredDeadLetter[], bytes: number) => Promise<void>,
    fetchBytes = FETCH_MAX_BYTES,
  ): Promise<void> {
    const metadata = await this.#consumer.metadata({ topics: [this.#topic] })
    const topic = metadata.topics.get(this.#topic)
    const leader = topic?.partitions[partition]?.leader
    if (!topic || leader === undefined) throw new Error(`no leader for ${this.#topic}-${partition}`)
    let next = from
    while (next < until) {
      const response = await this.#consumer.fetch({
        node: leader,
        maxWaitTime: 0,
        maxBytes: fetchBytes,
        topics: [{ topicId: topic.id, partitions: [{ partition, fetchOffset: next, partitionMaxBytes: fetchBytes, currentLeaderEpoch: -1, lastFetchedEpoch: -1 }] }],
      })
      const answer = response.responses[0]?.partitions[0]
      if (answer && answer.errorCode !== 0) throw new Error(`fetching ${this.#topic}-${partition} at offset ${next}: Kafka error code ${answer.errorCode}`)
      const batches = answer?.records ?? []
      const before = next
      const letters: StoredDeadLetter[] = []
      let bytes = 0
      for (const batch of batches) {
        next = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n
        if (batch.attributes & IS_CONTROL_BATCH) continue
        for (const record of batch.records) {
          const offset = batch.firstOffset + BigInt(record.offsetDelta)
          if (offset < from || offset >= until) continue
          bytes += record.value?.length ?? 0
          letters.push({ partition, offset: String(offset), timestamp: Number(batch.firstTimestamp + record.timestampDelta), letter: parseLetter(record.value?.toString('utf8')) })
        }
      }
      if (letters.length > 0) await onLetters(letters, bytes)
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
