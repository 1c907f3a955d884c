// Where a notification came from: the Kafka record (topic, partition, offset, key, time)
// and its value as received. Named in a dead letter and carried through retries, so a
// given-up notification can always be traced and replayed. Not to be confused with the
// callback origin (the client's scheme://host:port), which the origin gate is kept for.
import type { InputRecord } from '../kafka/consumer-loop.ts'
import type { RecordSource } from '../notifications/records.ts'

export interface Provenance {
  readonly source: RecordSource
  /** The record's value as received, cut to MAX_ORIGINAL_BYTES so a dead letter always fits. */
  readonly original: string
  readonly original_truncated: boolean
}

/** How much of a record is copied into its dead letter or retry record. */
const MAX_ORIGINAL_BYTES = 64 * 1024

/**
 * Worked out only when asked for: a delivered notification never needs it (only dead
 * letters and retry records do), and copying every record's value into a string cost as
 * much as parsing it. A class, so the lazy getters are shared, not made for every record.
 */
export function provenanceOf(record: InputRecord): Provenance {
  return new RecordProvenance(record)
}

class RecordProvenance implements Provenance {
  readonly #record: InputRecord
  #source: RecordSource | undefined
  #original: string | undefined

  constructor(record: InputRecord) {
    this.#record = record
  }

  get source(): RecordSource {
    const record = this.#record
    return (this.#source ??= {
      topic: record.topic,
      partition: record.partition,
      offset: String(record.offset),
      key: record.key ?? null,
      timestamp: record.timestamp === undefined ? null : new Date(Number(record.timestamp)).toISOString(),
    })
  }

  get original(): string {
    return (this.#original ??= this.#record.value?.subarray(0, MAX_ORIGINAL_BYTES).toString('utf8') ?? '')
  }

  get original_truncated(): boolean {
    return (this.#record.value?.length ?? 0) > MAX_ORIGINAL_BYTES
  }
}
