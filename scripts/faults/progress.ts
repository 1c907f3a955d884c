// One status line on stderr: rewritten in place (\r) on a terminal, a plain line every
// 10 s otherwise. Event lines are printed above it.
export class Progress {
  readonly #tty = process.stderr.isTTY === true
  #timer: NodeJS.Timeout | undefined
  #render: (() => string) | undefined
  #shown = false
  #lastPlain = 0

  start(render: () => string): void {
    this.stop()
    this.#render = render
    this.#lastPlain = Date.now()
    this.#timer = setInterval(() => this.#tick(), this.#tty ? 250 : 1000)
    this.#timer.unref()
    this.#tick()
  }

  /** Prints a line above the status line. */
  line(text: string): void {
    this.#clear()
    process.stderr.write(`${text}\n`)
    if (this.#tty) this.#draw()
  }

  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#clear()
    this.#render = undefined
  }

  #tick(): void {
    if (this.#tty) {
      this.#draw()
    } else if (Date.now() - this.#lastPlain >= 10_000) {
      this.#lastPlain = Date.now()
      if (this.#render) process.stderr.write(`${this.#render()}\n`)
    }
  }

  #draw(): void {
    if (!this.#render) return
    const width = Math.max(40, (process.stderr.columns || 120) - 1)
    process.stderr.write(`\r${this.#render().slice(0, width)}\x1b[K`)
    this.#shown = true
  }

  #clear(): void {
    if (this.#tty && this.#shown) process.stderr.write('\r\x1b[K')
    this.#shown = false
  }
}

export function bar(done: number, total: number, width = 16): string {
  const share = total === 0 ? 1 : Math.min(1, done / total)
  const full = Math.floor(share * width)
  return `${'█'.repeat(full)}${share < 1 ? '░'.repeat(width - full) : ''}`
}
