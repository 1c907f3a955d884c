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

class PartitionWindow<T> {
  readonly #entries: Array<Entry<T>> = []
  readonly #byOffset = new Map<bigint, Entry<T>>()
  #head = 0
  lastTracked = -1n
  committable: T | undefined

  track(offset: bigint, handle: T): void {
    const entry = { offset, handle, done: false }
    this.#entries.push(entry)
    this.#byOffset.set(offset, entry)
    this.lastTracked = offset
  }

  complete(offset: bigint): void {
    const entry = this.#byOffset.get(offset)
    if (!entry) return
    entry.done = true
    for (let next = this.#entries[this.#head]; next?.done; next = this.#entries[this.#head]) {
      this.#byOffset.delete(next.offset)
      this.committable = next.handle
      this.#head++
    }
    if (this.#head > 1024 && this.#head * 2 > this.#entries.length) {
      this.#entries.splice(0, this.#head)
      this.#head = 0
    }
  }

  get unfinished(): number {
    return this.#byOffset.size
  }
}

export interface CompletionToken {
  readonly key: string
  readonly offset: bigint
  readonly window: object
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
      window = new PartitionWindow<T>()
      this.#windows.set(key, window)
    }
    window.track(offset, handle)
    return { key, offset, window }
  }

  complete(token: CompletionToken): void {
    const window = this.#windows.get(token.key)
    if (window === token.window) window.complete(token.offset)
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

  /** Messages tracked and not yet committable, over all partitions. */
  get unfinished(): number {
    let count = 0
    for (const window of this.#windows.values()) count += window.unfinished
    return count
  }
}

export function partitionKey(topic: string, partition: number): string {
  return `${topic}:${partition}`
}
