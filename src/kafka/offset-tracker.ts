// Which offsets may be committed while messages of one partition are handled in parallel.
// Messages arrive in offset order per partition and finish in any order. The commit point
// is the end of the contiguous finished prefix (as Confluent's Parallel Consumer does), so a
// crash re-delivers at most the unfinished window and never skips a message.
// A window lasts as long as the stream that fills it (clear(): a new stream, read from the
// committed offsets); a message its stream hands on again is not tracked twice.
// Pure: the handle (the message whose commit() is called) is opaque here.

import { PartitionTable } from './partition-table.ts'

/** One tracked message; also the token complete() takes (one object per record, not two). */
interface Entry<T> extends CompletionToken {
  readonly window: PartitionWindow<T>
  readonly handle: T
  done: boolean
}

/** Entries passed by the commit point are let go at once, so a window never keeps finished messages alive. */
class PartitionWindow<T> {
  /** Tracked entries in offset order; slots before #head are already passed (undefined). */
  #entries: Array<Entry<T> | undefined> = []
  #head = 0
  lastTracked = -1n
  committable: T | undefined
  /** Set once the tracker lets the window go (a rewind, a revoked partition, clear): its completions no longer count. */
  retired = false

  track(offset: bigint, handle: T): Entry<T> {
    const entry: Entry<T> = { offset, window: this, handle, done: false }
    this.#entries.push(entry)
    this.lastTracked = offset
    return entry
  }

  complete(entry: Entry<T>): void {
    if (entry.done) return
    entry.done = true
    const entries = this.#entries
    for (let next = entries[this.#head]; next?.done; next = entries[this.#head]) {
      this.committable = next.handle
      entries[this.#head++] = undefined
    }
    if (this.#head === entries.length) {
      entries.length = 0
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > entries.length) {
      this.#entries = entries.slice(this.#head)
      this.#head = 0
    }
  }
}

/** What track() returns, to be passed back to complete() (the tracked entry itself). */
export interface CompletionToken {
  readonly offset: bigint
}

/** What track() returns for a message not to be handled, and why. */
export const NOT_OWNED = 'not-owned'
export const TRACKED_ALREADY = 'tracked-already'
export type Untracked = typeof NOT_OWNED | typeof TRACKED_ALREADY

export class OffsetTracker<T> {
  /** The window tracking each partition (none yet, or let go: undefined). */
  readonly #windows = new PartitionTable<PartitionWindow<T>>()
  /** The partitions this member owns, as of its last assignment (undefined: none told yet). */
  #owned: PartitionTable<true> | undefined

  /**
   * Tracks a message just received; returns the token to pass to complete(), or why it is
   * not to be handled: NOT_OWNED, of a partition this member does not own (see retainOnly);
   * TRACKED_ALREADY, at or below an offset its partition's window already tracked: the same
   * stream handed it on again (a fetch answered twice, say, across a leader change): it is at
   * work here or finished. Starting the window over there instead (as this did before) lets the
   * commit point pass the records below it still at work, a retry waiting minutes to be due
   * (the likely cause of the soak's 43 lost in run 14, issue 21). A new stream starts from
   * the committed offsets: clear().
   */
  track(topic: string, partition: number, offset: bigint, handle: T): CompletionToken | Untracked {
    if (this.#owned !== undefined && this.#owned.get(topic, partition) === undefined) return NOT_OWNED
    let window = this.#windows.get(topic, partition)
    if (window === undefined) this.#windows.set(topic, partition, (window = new PartitionWindow<T>()))
    else if (offset <= window.lastTracked) return TRACKED_ALREADY
    return window.track(offset, handle)
  }

  complete(token: CompletionToken): void {
    const entry = token as Entry<T>
    if (!entry.window.retired) entry.window.complete(entry)
  }

  /** The handles to commit now: one per partition whose finished prefix moved since last time. */
  takeCommittable(): T[] {
    const handles: T[] = []
    for (const [, , window] of this.#windows.entries()) {
      if (window.committable !== undefined) {
        handles.push(window.committable)
        window.committable = undefined
      }
    }
    return handles
  }

  /**
   * The partitions this member owns after a rebalance (`owned` as partitionKey names them):
   * the others are no longer tracked, nor is a message of theirs received from now on. Each
   * assignment has a stream of its own (group-membership.ts), so none should come; were one
   * handled and committed here, the commit could pass over a record the new owner still has
   * at work (the soak, issue 21: 911 retries never sent after rolling restarts and freezes).
   * A partition given back starts a new window at its committed offset; records of it still
   * at work from before are fetched again and wait for their first copy (records-in-hand.ts).
   */
  retainOnly(owned: ReadonlySet<string>): void {
    const table = new PartitionTable<true>()
    for (const key of owned) {
      const at = key.lastIndexOf(':') // Kafka topic names have no ':'
      table.set(key.slice(0, at), Number(key.slice(at + 1)), true)
    }
    this.#owned = table
    for (const [topic, partition, window] of this.#windows.entries()) {
      if (table.get(topic, partition)) continue
      window.retired = true
      this.#windows.set(topic, partition, undefined)
    }
  }

  /** Forgets every window (a new stream fetches again from the committed offsets); the assignment stays. */
  clear(): void {
    for (const [, , window] of this.#windows.entries()) window.retired = true
    this.#windows.clear()
  }
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`
}
