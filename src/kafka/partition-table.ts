// Something kept per Kafka partition, found by topic and then partition number: nothing is
// made per record to look it up (no "topic:partition" string). Used by the offset tracker
// and by the records a consumer loop has in hand, which both look up once per record.

export class PartitionTable<V> {
  readonly #topics = new Map<string, Array<V | undefined>>()

  get(topic: string, partition: number): V | undefined {
    return this.#topics.get(topic)?.[partition]
  }

  set(topic: string, partition: number, value: V | undefined): void {
    let partitions = this.#topics.get(topic)
    if (partitions === undefined) this.#topics.set(topic, (partitions = []))
    partitions[partition] = value
  }

  /** The partition's value, made by `make` the first time it is asked for. */
  getOrMake(topic: string, partition: number, make: () => V): V {
    const value = this.get(topic, partition)
    if (value !== undefined) return value
    const made = make()
    this.set(topic, partition, made)
    return made
  }

  /** Every partition that has a value. */
  *entries(): Generator<[topic: string, partition: number, value: V]> {
    for (const [topic, partitions] of this.#topics) {
      for (let partition = 0; partition < partitions.length; partition++) {
        const value = partitions[partition]
        if (value !== undefined) yield [topic, partition, value]
      }
    }
  }

  clear(): void {
    this.#topics.clear()
  }
}
