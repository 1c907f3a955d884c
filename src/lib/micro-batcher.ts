// Gathers calls made close together into one batch: by default those of one turn of the
// event loop (flushed on setImmediate), or those within `lingerMs`. Records arrive in
// fetched batches and HTTP answers in bursts, so hundreds of Redis claims, "sent" markers
// and Kafka records are asked for at once; one script call or produce request for all of
// them costs a fraction of one call each.

export type BatchRunner<I, O> = (items: readonly I[]) => Promise<readonly O[]>

export interface MicroBatcherOptions {
  /** A batch this large is sent at once. */
  readonly maxBatch: number
  /** Wait this long for more items (asked at each batch's first item when a function); unset: only until the current turn of the event loop ends. */
  readonly lingerMs?: number | (() => number)
}

export class MicroBatcher<I, O> {
  readonly #run: BatchRunner<I, O>
  readonly #options: MicroBatcherOptions
  #items: I[] = []
  #waiters: Array<PromiseWithResolvers<O>> = []
  #scheduled: NodeJS.Immediate | NodeJS.Timeout | undefined

  /** @param run answers the items in order, one result each; a rejection fails the whole batch. */
  constructor(run: BatchRunner<I, O>, options: MicroBatcherOptions) {
    this.#run = run
    this.#options = options
  }

  add(item: I): Promise<O> {
    const waiter = Promise.withResolvers<O>()
    this.#items.push(item)
    this.#waiters.push(waiter)
    if (this.#items.length >= this.#options.maxBatch) this.flush()
    else this.#scheduled ??= this.#schedule()
    return waiter.promise
  }

  /** Sends what is waiting now. */
  flush(): void {
    this.#cancelSchedule()
    const items = this.#items
    const waiters = this.#waiters
    if (items.length === 0) return
    this.#items = []
    this.#waiters = []
    let running: Promise<readonly O[]>
    try {
      running = this.#run(items)
    } catch (error) {
      running = Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
    running.then(
      (results) => {
        if (results.length !== waiters.length) {
          const error = new Error(`batch of ${waiters.length} answered with ${results.length} results`)
          for (const waiter of waiters) waiter.reject(error)
          return
        }
        for (let i = 0; i < waiters.length; i++) waiters[i]!.resolve(results[i]!)
      },
      (error: unknown) => {
        for (const waiter of waiters) waiter.reject(error)
      },
    )
  }

  #schedule(): NodeJS.Immediate | NodeJS.Timeout {
    const { lingerMs } = this.#options
    if (lingerMs === undefined) return setImmediate(flushBatcher, this)
    return setTimeout(flushBatcher, typeof lingerMs === 'number' ? lingerMs : lingerMs(), this)
  }

  #cancelSchedule(): void {
    if (this.#scheduled === undefined) return
    if (this.#options.lingerMs === undefined) clearImmediate(this.#scheduled as NodeJS.Immediate)
    else clearTimeout(this.#scheduled as NodeJS.Timeout)
    this.#scheduled = undefined
  }
}

function flushBatcher(batcher: { flush(): void }): void {
  batcher.flush()
}
