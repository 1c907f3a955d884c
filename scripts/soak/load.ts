// The soak's steady load: results produced to the sending topic at about `rate` a second,
// with bursts (three times the rate for 5 s, every 30–45 s), each to one of the origins in
// turn. A failed send is retried with a new producer until it goes out (a broker may be down).
import { ProduceAcks } from '@platformatic/kafka'
import { newProducer, shortError, withTimeout } from '../faults/kafka.ts'
import { sleep } from '../faults/procs.ts'
import type { SeededRandom } from './random.ts'

export interface Sent {
  origin: number
  producedAt: number
  /** The broker acknowledged it; an unacknowledged one may or may not have been written. */
  acked: boolean
  /** Where the broker said it wrote it (partition and offset), once acknowledged. */
  partition: number
  offset?: bigint
}

export interface LoadOptions {
  topic: string
  /** The sending topic's partitions: the load spreads its ids over them in turn, and so knows each one's offset from the acknowledgement. */
  partitions: number
  rate: number
  origins: readonly string[]
  random: SeededRandom
  signal: AbortSignal
  onEvent: (text: string) => void
}

const MAX_BATCH = 500

function resultValue(id: number, callbackUrl: string): string {
  const response = { callback_url: `${callbackUrl}/n/${id}`, processing_id: id, user_id: 2, resume_id: 3, requirements_id: 4, score: 70, matches: ['Python'], recommendation: 'Invite', verdict: 'suitable' }
  return JSON.stringify({ success: true, response, message_error: null, wait_seconds: null })
}

export class Load {
  readonly sent = new Map<number, Sent>()
  readonly #options: LoadOptions
  #nextId = Date.now() * 1000
  #due = 0
  #burstUntil = 0
  #nextBurst: number

  constructor(options: LoadOptions) {
    this.#options = options
    this.#nextBurst = Date.now() + options.random.between(30_000, 45_000)
  }

  /** Produces until `signal` aborts; resolves once what was due went out. */
  async run(): Promise<void> {
    const { signal, rate } = this.#options
    let producer = newProducer(false)
    let last = Date.now()
    let failingSince: number | undefined
    try {
      while (!signal.aborted) {
        const now = Date.now()
        if (now >= this.#nextBurst) {
          this.#burstUntil = now + 5000
          this.#nextBurst = now + this.#options.random.between(30_000, 45_000)
        }
        this.#due += ((now - last) / 1000) * rate * (now < this.#burstUntil ? 3 : 1)
        last = now
        const count = Math.min(MAX_BATCH, Math.floor(this.#due))
        if (count < 1) {
          await sleep(100)
          continue
        }
        try {
          await this.#send(producer, count)
          this.#due -= count
          if (failingSince !== undefined) this.#options.onEvent(`producer: sending again after ${((Date.now() - failingSince) / 1000).toFixed(1)} s`)
          failingSince = undefined
        } catch (error) {
          if (failingSince === undefined) this.#options.onEvent(`producer: send failed (${shortError(error)}); retrying`)
          failingSince ??= Date.now()
          void producer.close(true).catch(() => undefined)
          producer = newProducer(false)
          await sleep(500)
        }
      }
    } finally {
      await producer.close().catch(() => undefined)
    }
  }

  async #send(producer: ReturnType<typeof newProducer>, count: number): Promise<void> {
    const { origins, topic } = this.#options
    const batch = Array.from({ length: count }, () => {
      const id = this.#nextId++
      return { id, origin: id % origins.length }
    })
    const { partitions } = this.#options
    const messages = batch.map(({ id, origin }) => ({ topic, partition: id % partitions, key: 'new_sending', value: resultValue(id, origins[origin] ?? '') }))
    const at = Date.now()
    const entries = batch.map(({ id, origin }) => {
      const entry: Sent = { origin, producedAt: at, acked: false, partition: id % partitions }
      this.sent.set(id, entry)
      return entry
    })
    // a send that timed out may still have been written: its ids stay, unacknowledged, and a retry sends new ones
    const result = await withTimeout(producer.send({ messages, acks: ProduceAcks.ALL }), 20_000)
    const next = new Map((result.offsets ?? []).map(({ partition, offset }) => [partition, offset]))
    for (const entry of entries) {
      entry.acked = true
      const offset = next.get(entry.partition)
      if (offset === undefined) continue
      entry.offset = offset // the records of one partition are written in the order sent
      next.set(entry.partition, offset + 1n)
    }
  }
}
