// The soak's service replicas: a fixed number of slots, each running one `node src/main.ts`
// (one consumer group). A slot's replica may be killed, frozen or restarted by the nemesis;
// one that exits on its own is a crash: recorded, and replaced.
import { appendFileSync } from 'node:fs'
import { Replica } from '../faults/procs.ts'

export interface ReplicaLife {
  name: string
  pid: number | undefined
  logFile: string
  startedAt: number
  readyAt?: number
  endedAt?: number
  /** [time, RSS KiB] samples. */
  rss: Array<[number, number]>
  /** [time, V8 heap used KiB] samples (from its /metrics): what is live in the heap, without what V8 and the allocator keep in reserve. */
  heap: Array<[number, number]>
}

export class Fleet {
  readonly slots: Array<Replica | undefined>
  readonly lives: ReplicaLife[] = []
  readonly crashes: string[] = []
  /** When replicas exited by themselves: what they had in flight may be sent again, as after a kill -9. */
  readonly crashTimes: number[] = []
  readonly #env: Record<string, string>
  readonly #logDir: string
  readonly #byReplica = new Map<Replica, ReplicaLife>()
  #closing = false

  constructor(size: number, env: Record<string, string>, logDir: string) {
    this.slots = Array.from({ length: size }, () => undefined)
    this.#env = env
    this.#logDir = logDir
  }

  get live(): Replica[] {
    return this.slots.filter((r): r is Replica => r !== undefined && r.running)
  }

  /** Starts the slot's replica and waits until it is ready (three tries). */
  async start(slot: number): Promise<Replica> {
    for (let attempt = 1; ; attempt++) {
      const replica = await Replica.start(this.#env, this.#logDir, true)
      const life: ReplicaLife = { name: replica.name, pid: replica.pid, logFile: replica.logFile, startedAt: Date.now(), rss: [], heap: [] }
      this.lives.push(life)
      this.#byReplica.set(replica, life)
      this.slots[slot] = replica
      void replica.exited.then((exit) => this.#onExit(slot, replica, `${exit.code ?? exit.signal}`))
      try {
        await replica.waitReady(180_000)
        life.readyAt = Date.now()
        return replica
      } catch (error) {
        if (attempt >= 3 || this.#closing) throw error
        if (replica.running) await replica.stop(5000)
      }
    }
  }

  async startAll(): Promise<void> {
    await Promise.all(this.slots.map((_, slot) => this.start(slot)))
  }

  /** kill -9, then a new replica in the slot. */
  async kill9(slot: number): Promise<string> {
    const victim = this.slots[slot]
    if (!victim) return 'empty slot'
    victim.kill9()
    await victim.exited
    const next = await this.start(slot)
    return `kill -9 ${victim.name} (pid ${victim.pid}); ${next.name} ready`
  }

  /** SIGSTOP for `ms`, then SIGCONT. Resolves with the window. */
  async freeze(slot: number, ms: number, sleep: (ms: number) => Promise<void>): Promise<{ text: string; stoppedAt: number; contAt: number }> {
    const victim = this.slots[slot]
    if (!victim) return { text: 'empty slot', stoppedAt: Date.now(), contAt: Date.now() }
    victim.freeze()
    const stoppedAt = Date.now()
    await sleep(ms)
    victim.thaw()
    return { text: `SIGSTOP ${victim.name} for ${(ms / 1000).toFixed(0)} s`, stoppedAt, contAt: Date.now() }
  }

  /** SIGTERM each replica in turn, a new one ready before the next. */
  async rollingRestart(): Promise<string> {
    const exits: string[] = []
    for (const [slot, replica] of this.slots.entries()) {
      if (!replica) continue
      const exit = await replica.stop(60_000)
      exits.push(`${replica.name} exit ${exit.code ?? exit.signal}`)
      await this.start(slot)
    }
    return `rolling restart: ${exits.join(', ')}`
  }

  sampleRss(): void {
    const now = Date.now()
    for (const replica of this.live) {
      const kib = replica.rssKiB()
      const life = this.#byReplica.get(replica)
      if (kib !== undefined && life) life.rss.push([now, kib])
    }
  }

  /**
   * Reads each live replica's heap used from its /metrics (a frozen one does not answer: no
   * sample), and appends its consumer loops' state to `<log>.loops.jsonl` (loopState): what a
   * stalled loop looked like when a run ends with retries never handled.
   */
  async sampleHeap(): Promise<void> {
    await Promise.all(
      this.live.map(async (replica) => {
        const life = this.#byReplica.get(replica)
        try {
          const text = await (await fetch(`http://127.0.0.1:${replica.port}/metrics`, { signal: AbortSignal.timeout(1000) })).text()
          const bytes = /^nodejs_heap_size_used_bytes (\d+)/m.exec(text)?.[1]
          if (bytes !== undefined && life) life.heap.push([Date.now(), Math.round(Number(bytes) / 1024)])
          appendFileSync(`${replica.logFile}.loops.jsonl`, `${JSON.stringify({ at: Date.now(), ...loopState(text) })}\n`)
        } catch {
          // frozen, or gone meanwhile
        }
      }),
    )
  }

  async stopAll(): Promise<string[]> {
    this.#closing = true
    const problems: string[] = []
    await Promise.all(
      this.slots.map(async (replica) => {
        if (!replica?.running) return
        const exit = await replica.stop(45_000)
        if (exit.code !== 0) problems.push(`${replica.name} ended with ${exit.code ?? exit.signal} on SIGTERM (log: ${replica.logFile})`)
      }),
    )
    return problems
  }

  #onExit(slot: number, replica: Replica, how: string): void {
    const life = this.#byReplica.get(replica)
    if (life) life.endedAt = Date.now()
    if (replica.expectedExit || this.#closing) return
    // one that never got ready (a port taken meanwhile, say) is tried again by start(), which fails the run after three
    if (!replica.wasReady) return
    this.crashTimes.push(life?.endedAt ?? Date.now())
    this.crashes.push(`${replica.name} exited by itself (${how}): ${replica.firstError()} (log: ${replica.logFile})`)
    if (this.slots[slot] === replica) this.start(slot).catch((error: unknown) => this.crashes.push(`replacement failed: ${String(error)}`))
  }
}

/**
 * Per consumer loop, from a /metrics text: records in flight, the oldest one's age (s), whether
 * it holds its stream paused; and the lag summed per consumer group.
 */
type LoopState = { inFlight?: number; oldest?: number; paused?: number; stages?: Record<string, number> }

export function loopState(metricsText: string): { loops: Record<string, LoopState>; lag: Record<string, number> } {
  const loops: Record<string, LoopState> = {}
  const lag: Record<string, number> = {}
  const field = { notifications_in_flight: 'inFlight', notifications_in_flight_oldest_seconds: 'oldest', kafka_consumer_paused: 'paused' } as const
  for (const [, name, labels, value] of metricsText.matchAll(/^(\w+)\{([^}]*)\} (\S+)$/gm)) {
    const loop = /loop="([^"]+)"/.exec(labels!)?.[1]
    if (loop !== undefined && name! in field) (loops[loop] ??= {})[field[name as keyof typeof field]] = Number(value)
    const stage = /stage="([^"]+)"/.exec(labels!)?.[1]
    if (loop !== undefined && stage !== undefined && name === 'notifications_in_flight_by_stage') ((loops[loop] ??= {}).stages ??= {})[stage] = Number(value)
    const group = /group="([^"]+)"/.exec(labels!)?.[1]
    if (name === 'kafka_consumer_lag' && group !== undefined) lag[group] = (lag[group] ?? 0) + Number(value)
  }
  return { loops, lag }
}
