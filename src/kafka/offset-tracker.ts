// Which offsets may be committed while messages of one partition are handled in parallel.
// Messages arrive in offset order per partition and finish in any order. The commit point
// is the end of the contiguous finished prefix (as Confluent's Parallel Consumer does), so a
// crash re-delivers at most the unfinished window and never skips a message.
// Pure: the handle (the message whose commit() is called) is opaque here.

interface Entry<T> {
  readonly offset: bigint
  readonly handle: T
  done: boolean
}

/** Entries passed by the commit point are let go at once, so a window never keeps finished messages alive. */
class PartitionWindow<T> {
  readonly key: string
  /** Tracked entries in offset order; slots before #head are already passed (undefined). */
  #entries: Array<Entry<T> | undefined> = []
  #head = 0
  lastTracked = -1n
  committable: T | undefined

  constructor(key: string) {
    this.key = key
  }

  track(offset: bigint, handle: T): Entry<T> {
    const entry: Entry<T> = { offset, handle, done: false }
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

export interface CompletionToken {
  readonly window: object
  readonly entry: object
}

export class OffsetTracker<T> {
  readonly #windows = new Map<string, PartitionWindow<T>>()

  /**
   * Tracks a message just received; returns the token to pass to complete().
   * An offset at or below one already tracked means the consumer fetched again from the
   * committed offset (a rebalance or reconnect): the partition's window starts over, and
   * completions from the old window no longer move the commit point.
   */
  track(topic: string, partition: number, offset: bigint, handle: T): CompletionToken {
    const key = partitionKey(topic, partition)
    let window = this.#windows.get(key)
    if (!window || offset <= window.lastTracked) {
      window = new PartitionWindow<T>(key)
      this.#windows.set(key, window)
    }
    return { window, entry: window.track(offset, handle) }
  }

  complete(token: CompletionToken): void {
    const window = token.window as PartitionWindow<T>
    if (this.#windows.get(window.key) === window) window.complete(token.entry as Entry<T>)
  }

  /** The handles to commit now: one per partition whose finished prefix moved since last time. */
  takeCommittable(): T[] {
    const handles: T[] = []
    for (const window of this.#windows.values()) {
      if (window.committable !== undefined) {
        handles.push(window.committable)
        window.committable = undefined
      }
    }
    return handles
  }

  /** Stops tracking partitions this consumer no longer owns (after a rebalance). */
  retainOnly(owned: ReadonlySet<string>): void {
    for (const key of [...this.#windows.keys()]) if (!owned.has(key)) this.#windows.delete(key)
  }

  /** Forgets everything (a new stream fetches again from the committed offsets). */
  clear(): void {
    this.#windows.clear()
  }
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`
}
