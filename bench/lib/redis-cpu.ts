// Redis's own CPU time, from `INFO cpu` (used_cpu_sys + used_cpu_user, all its threads), read
// on an interval: works for a Redis in another container or host, where /proc cannot see it.
// Includes whatever else uses the same Redis meanwhile (other tests on this machine).
import { Redis } from 'ioredis'

interface CpuSample {
  /** ms epoch */
  t: number
  /** CPU seconds */
  cpu: number
}

export class RedisCpuSampler {
  readonly #redis: Redis
  readonly #samples: CpuSample[] = []
  #timer: NodeJS.Timeout | undefined

  constructor(url: string) {
    this.#redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  }

  async start(intervalMs: number): Promise<void> {
    await this.#redis.connect()
    await this.sampleNow()
    this.#timer = setInterval(() => void this.sampleNow().catch(() => undefined), intervalMs)
  }

  async sampleNow(): Promise<void> {
    const t = Date.now()
    const text = await this.#redis.info('cpu')
    const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1])
    const cpu = field('used_cpu_sys') + field('used_cpu_user')
    if (Number.isFinite(cpu)) this.#samples.push({ t, cpu })
  }

  /** CPU seconds Redis used between two times (ms epoch), interpolated between samples. */
  usedBetween(from: number, to: number): number | undefined {
    const at = (t: number): number | undefined => {
      const after = this.#samples.findIndex((sample) => sample.t >= t)
      if (after <= 0) return undefined
      const a = this.#samples[after - 1]!
      const b = this.#samples[after]!
      return a.cpu + ((b.cpu - a.cpu) * (t - a.t)) / Math.max(1, b.t - a.t)
    }
    const start = at(from)
    const end = at(to)
    return start === undefined || end === undefined ? undefined : end - start
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer)
    await this.sampleNow().catch(() => undefined)
    this.#redis.disconnect()
  }
}
