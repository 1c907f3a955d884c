// A small seeded PRNG (LCG), so that a soak's fault schedule and origin mix can be repeated
// with --seed.
export class SeededRandom {
  readonly seed: number
  #state: number

  constructor(seed: number) {
    this.seed = seed
    this.#state = seed % 2 ** 31
  }

  /** In [0, 1). */
  next(): number {
    this.#state = (this.#state * 1103515245 + 12345) % 2 ** 31
    return this.#state / 2 ** 31
  }

  /** In [min, max). */
  between(min: number, max: number): number {
    return min + this.next() * (max - min)
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)]
    if (item === undefined) throw new Error('pick from an empty list')
    return item
  }
}
