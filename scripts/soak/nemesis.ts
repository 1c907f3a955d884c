// The soak's nemesis: one fault every 20–40 s (seeded), chosen among the kinds below, and
// what it did and when. A "double" runs two different kinds at once (never both on Redis: a
// master and its own replica down together is an outage, not a failover).
import type { Fleet } from './fleet.ts'
import type { SeededRandom } from './random.ts'
import type { Topology } from './topology.ts'

export const FAULT_KINDS = ['replica-kill9', 'replica-freeze', 'rolling-restart', 'broker-kill9', 'redis-master-kill9', 'redis-replica-restart', 'double'] as const
export type FaultKind = (typeof FAULT_KINDS)[number]
type SingleKind = Exclude<FaultKind, 'double'>

export interface Fault {
  kind: FaultKind
  /** For a double, the two kinds it ran. */
  parts: SingleKind[]
  text: string[]
  startedAt: number
  endedAt?: number
  /** Replica freezes: SIGSTOP and SIGCONT times. */
  freezes: Array<{ stoppedAt: number; contAt: number }>
  /** Processes killed outright (a replica or a Redis master): what was in flight may be sent again. */
  crashAt: number[]
  /** When the group's lag was back under the limit after the fault ended (undefined: never, within the wait). */
  recoveredAt?: number
  error?: string
}

export interface NemesisDeps {
  fleet: Fleet
  topology: Topology
  random: SeededRandom
  sleep: (ms: number) => Promise<void>
  log: (text: string) => void
}

const DOUBLE_PARTS: SingleKind[] = ['replica-kill9', 'replica-freeze', 'broker-kill9', 'redis-master-kill9', 'redis-replica-restart']
const onRedis = (kind: SingleKind) => kind.startsWith('redis-')

export class Nemesis {
  readonly faults: Fault[] = []
  readonly #deps: NemesisDeps
  readonly #kinds: readonly FaultKind[]
  #turn = 0

  constructor(deps: NemesisDeps, kinds: readonly FaultKind[] = FAULT_KINDS) {
    this.#deps = deps
    this.#kinds = kinds
  }

  /** The next kind: every kind once in a shuffled round, then again (so a short run sees many). */
  nextKind(): FaultKind {
    const round = Math.floor(this.#turn / this.#kinds.length)
    const order = [...this.#kinds].sort((a, b) => hash(`${this.#deps.random.seed}:${round}:${a}`) - hash(`${this.#deps.random.seed}:${round}:${b}`))
    return order[this.#turn++ % this.#kinds.length] ?? 'replica-kill9'
  }

  async run(kind: FaultKind): Promise<Fault> {
    const { random } = this.#deps
    let parts: SingleKind[] = [kind === 'double' ? random.pick(DOUBLE_PARTS) : kind]
    if (kind === 'double') {
      const first = parts[0] ?? 'replica-kill9'
      parts = [first, random.pick(DOUBLE_PARTS.filter((k) => k !== first && !(onRedis(k) && onRedis(first))))]
    }
    const fault: Fault = { kind, parts, text: [], startedAt: Date.now(), freezes: [], crashAt: [] }
    this.faults.push(fault)
    const slots = [...this.#deps.fleet.slots.keys()].sort(() => random.next() - 0.5)
    try {
      await Promise.all(parts.map((part, i) => this.#one(part, slots[i % slots.length] ?? 0, fault)))
    } catch (error) {
      fault.error = String((error as Error).message ?? error).slice(0, 300)
      fault.text.push(`FAILED: ${fault.error}`)
    }
    fault.endedAt = Date.now()
    this.#deps.log(`${kind}: ${fault.text.join('; ')} (${((fault.endedAt - fault.startedAt) / 1000).toFixed(1)} s)`)
    return fault
  }

  async #one(kind: SingleKind, slot: number, fault: Fault): Promise<void> {
    const { fleet, topology, random, sleep } = this.#deps
    switch (kind) {
      case 'replica-kill9':
        fault.crashAt.push(Date.now())
        fault.text.push(await fleet.kill9(slot))
        return
      case 'replica-freeze': {
        const window = await fleet.freeze(slot, random.between(30_000, 90_000), sleep)
        fault.freezes.push({ stoppedAt: window.stoppedAt, contAt: window.contAt })
        fault.text.push(window.text)
        return
      }
      case 'rolling-restart':
        fault.text.push(await fleet.rollingRestart())
        return
      case 'broker-kill9': {
        const broker = 1 + Math.floor(random.next() * 3)
        await topology.killBroker(broker)
        await sleep(random.between(5000, 15_000))
        await topology.startBroker(broker)
        fault.text.push(`kill -9 broker ${broker}, started again`)
        return
      }
      case 'redis-master-kill9':
        fault.crashAt.push(Date.now())
        fault.text.push(`kill -9 Redis master ${await topology.killRedisMaster(`soak-${Math.floor(random.next() * 1e9)}`)}, failed over, started again`)
        return
      case 'redis-replica-restart':
        fault.text.push(`Redis replica ${await topology.restartRedisReplica()} restarted`)
        return
    }
  }
}

function hash(text: string): number {
  let h = 2166136261
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619)
  return h >>> 0
}
