// The records a consumer loop is handling, by topic, partition and offset, so that a record
// fetched again while its first copy is still at work here (a stream replaced, a rejoin) is
// not handled a second time: the copy's offset is done when the first copy's work ended
// committable (the soak, issue 21, saw one result handled up to 13 times at once).
// Pure, and nothing allocated per record on the common path: one entry per record in its
// partition's map, keyed by the offset the Kafka client already made (a bigint, compared by
// value); the list of copies is made only when a copy arrives.

import { PartitionTable } from './partition-table.ts'

export class RecordsInHand<T> {
  /** Per partition: its records in hand by offset, each with the copies fetched meanwhile (null: none). */
  readonly #partitions = new PartitionTable<Map<bigint, T[] | null>>()

  /**
   * Takes a record in hand: true. False when a copy of it already is: then `copy` (what stands
   * for this one, e.g. its completion token) is kept until that copy is released.
   */
  take(topic: string, partition: number, offset: bigint, copy: T): boolean {
    const offsets = this.#partitions.getOrMake(topic, partition, () => new Map())
    const copies = offsets.get(offset)
    if (copies === undefined) {
      offsets.set(offset, null)
      return true
    }
    if (copies === null) offsets.set(offset, [copy])
    else copies.push(copy)
    return false
  }

  /** The record's work has ended: lets it go, and returns the copies fetched meanwhile (undefined: none). */
  release(topic: string, partition: number, offset: bigint): T[] | undefined {
    const offsets = this.#partitions.get(topic, partition)
    const copies = offsets?.get(offset)
    offsets?.delete(offset)
    return copies ?? undefined
  }

  /** Records in hand (tests). */
  get size(): number {
    let size = 0
    for (const [, , offsets] of this.#partitions.entries()) size += offsets.size
    return size
  }

}
