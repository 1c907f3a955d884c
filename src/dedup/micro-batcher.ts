// Gathers calls made during one turn of the event loop into one batch. Records arrive in
// fetched batches and HTTP answers in bursts, so hundreds of Redis claims and "sent"
// markers are asked for in the same turn; one script call for all of them costs Redis and
// the client a fraction of one call each (the command objects, promises and parsing of
// ioredis were a fifth of all allocation).

export type BatchRunner<I, O> = (items: readonly I[]) => Promise<readonly O[]>

export class MicroBatcher<I, O> {
  readonly #run: BatchRunner<I, O>
  readonly #maxBatch: number
  #items: I[] = []
  #waiters: Array<{ resolve: (value: O) => void; reject: (error: unknown) => void }> = []
  #scheduled: NodeJS.Immediate | undefined

  /** @param run answers the items in order, one result each; a rejection fails the whole batch. */
  constructor(run: BatchRunner<I, O>, maxBatch: number) {
    this.#run = run
    this.#maxBatch = maxBatch
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#items.push(item)
      this.#waiters.push({ resolve, reject })
      if (this.#items.length >= this.#maxBatch) this.#flush()
      else this.#scheduled ??= setImmediate(() => this.#flush())
    })
  }

  #flush(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled)
    this.#scheduled = undefined
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
}
