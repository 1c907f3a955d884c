// Records a consumer loop received but did not handle, counted by why and by partition and
// reported now and then (every commit interval), not one log line per record.
//   not-owned:       of a partition taken from this member, still in its stream's buffer after
//                    the rebalance (a few are expected; a stream of them would mean a partition
//                    wrongly thought not owned);
//   tracked-already: handed on again by the same stream (a fetch answered twice): at work here
//                    or finished (offset-tracker.ts).
import type { Logger } from '../log.ts'
import { partitionKey, type Untracked } from './offset-tracker.ts'

const REPORTS: Record<Untracked, string> = {
  'not-owned': 'records of partitions not assigned to this member skipped (fetched before a rebalance)',
  'tracked-already': 'records handed on again by the same stream skipped (at work here or finished)',
}

export class SkippedRecords {
  readonly #counts: Record<Untracked, Map<string, number>> = { 'not-owned': new Map(), 'tracked-already': new Map() }

  count(why: Untracked, topic: string, partition: number): void {
    const counts = this.#counts[why]
    const key = partitionKey(topic, partition)
    counts.set(key, (counts.get(key) ?? 0) + 1)
  }

  /** Logs what was skipped since the last report, one line per reason, and starts counting again. */
  report(logger: Logger): void {
    for (const why of Object.keys(REPORTS) as Untracked[]) {
      const counts = this.#counts[why]
      if (counts.size === 0) continue
      logger.warn({ skipped: Object.fromEntries(counts), why }, REPORTS[why])
      counts.clear()
    }
  }
}
