// Runs tasks with the same key one after another, in arrival order, and tasks with
// different keys at once. Ordering we need is per processing_id, not per partition:
// a request is recorded before its result is looked up, a duplicate waits for the original.

export class KeyedSerializer<K> {
  readonly #tails = new Map<K, Promise<unknown>>()

  run<T>(key: K, task: () => Promise<T>): Promise<T> {
    const previous = this.#tails.get(key)
    const result = previous === undefined ? task() : previous.then(task, task)
    // Settles (never rejects) once `result` has; the last task of a key removes the key.
    const settled = () => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key)
    }
    const tail: Promise<void> = result.then(settled, settled)
    this.#tails.set(key, tail)
    return result
  }
}
