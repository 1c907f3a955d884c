// One progress bar on stderr (cli-progress), restarted for each phase, with a rate over
// the last few seconds and a free-form info field.
import { Presets, SingleBar } from 'cli-progress'

const RATE_WINDOW_MS = 3000

export class Progress {
  readonly #bar = new SingleBar(
    {
      stream: process.stderr,
      format: '{phase} [{bar}] {value}/{total} {percentage}% | {rate}/s | {duration_formatted} | {info}',
      barsize: 28,
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 2000,
      fps: 5,
    },
    Presets.shades_classic,
  )
  #points: Array<{ t: number; value: number }> = []
  #active = false

  start(phase: string, total: number, info = ''): void {
    this.stop()
    this.#points = [{ t: performance.now(), value: 0 }]
    this.#bar.start(total, 0, { phase: phase.padEnd(12), rate: '0', info })
    this.#active = true
  }

  update(value: number, info = ''): void {
    if (!this.#active) return
    const now = performance.now()
    this.#points.push({ t: now, value })
    while (this.#points.length > 2 && now - (this.#points[0] as { t: number }).t > RATE_WINDOW_MS) this.#points.shift()
    const first = this.#points[0] as { t: number; value: number }
    const rate = now > first.t ? ((value - first.value) / (now - first.t)) * 1000 : 0
    this.#bar.update(value, { rate: Math.round(rate).toLocaleString('en-US'), info })
  }

  stop(): void {
    if (!this.#active) return
    this.#bar.stop()
    this.#active = false
  }
}
