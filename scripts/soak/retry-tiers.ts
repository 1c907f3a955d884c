// Where an id's retries went: its records in the service's retry tiers (read at the end, the
// replicas stopped) and whether each tier's group had committed past them. For an id neither
// delivered nor dead-lettered, this tells the three ways it can be stuck apart: its last retry
// record was never written (acknowledged but absent), was committed past without being acted
// on (skipped), or still waits uncommitted (its tier stalled, or it is not due yet).
import { committedOffsets, TopicReader } from '../faults/kafka.ts'
import { retryTiers } from '../../src/names.ts'

export interface RetryTrace {
  tier: string
  partition: number
  offset: bigint
  dueAt: number
  committed: boolean
}

/** Every retry record of the run, by processing id, in the order the tiers were read (fastest tier first). */
export async function traceRetries(groupId: string, scheduleMs: readonly number[], timeoutMs: number): Promise<Map<number, RetryTrace[]>> {
  const traces = new Map<number, RetryTrace[]>()
  for (const tier of retryTiers(groupId, scheduleMs)) {
    const committed = await committedOffsets(tier.groupId, tier.topic).catch(() => new Map<number, bigint>())
    const name = tier.topic.split('.').at(-1) ?? tier.topic
    const reader = new TopicReader(tier.topic, (record) => {
      const envelope = parse(record.value)
      const id = envelope?.notification?.processing_id
      if (typeof id !== 'number') return
      const trace = { tier: name, partition: record.partition, offset: record.offset, dueAt: Number(envelope?.due_at ?? 0), committed: record.offset < (committed.get(record.partition) ?? 0n) }
      traces.set(id, [...(traces.get(id) ?? []), trace])
    })
    reader.start()
    await reader.catchUp(timeoutMs)
    await reader.stop()
  }
  return traces
}

/** The last retry record of an id: the one due last. */
export function lastRetryTrace(traces: ReadonlyMap<number, RetryTrace[]>, id: number): RetryTrace | undefined {
  return (traces.get(id) ?? []).reduce<RetryTrace | undefined>((latest, t) => (latest === undefined || t.dueAt >= latest.dueAt ? t : latest), undefined)
}

/** The last retry record of an id (the one due last), as text: where it is and whether its tier committed past it. */
export function lastRetry(traces: ReadonlyMap<number, RetryTrace[]>, id: number): string {
  const last = lastRetryTrace(traces, id)
  if (last === undefined) return 'no retry record in any tier'
  return `last retry ${last.tier} ${last.partition}:${last.offset} due ${new Date(last.dueAt).toISOString().slice(11, 23)}, ${last.committed ? 'committed past' : 'not committed'}`
}

function parse(text: string): { notification?: { processing_id?: unknown }; due_at?: unknown } | undefined {
  try {
    return JSON.parse(text) as { notification?: { processing_id?: unknown }; due_at?: unknown }
  } catch {
    return undefined
  }
}
