// Preloaded into the service by `npm run bench -- --waits` (node --import): what records in
// flight are waiting on. It changes nothing the service does; it wraps, from outside, the
// prototypes of the classes a record passes through (same module instances as the
// service's: same file URLs) and listens on the diagnostics channels of ioredis, undici and
// @platformatic/kafka. Every 100 ms one line goes to WAIT_PROBE_FILE:
//   t        ms epoch
//   elu      the event loop's busy share over the interval (performance.eventLoopUtilization)
//   loops    each consumer loop's records in flight and its in-flight limit, at that moment
//   levels   per state, { area: item-ms spent in it over the interval, busy: ms with ≥ 1 in it,
//            ends: items that left it }: by Little's law area ÷ interval is the mean number
//            of records (or commands, fetches) in that state
// Also dt (ms since the previous line) and cpu (the process's CPU time over dt ÷ dt).
// The states: admit.wait (waiting for a slot of the origin's concurrency limit), origin.tickets
// (slots held: from admission through claim and attempt to release), http (undici request
// created → trailers or error), redis (a command sent → answered), kafka.fetch (a fetch
// request under way), and for each micro-batcher (named by its caller) <name>.linger
// (added → flushed) and <name>.trip (flushed → answered).
// The hooks cost CPU (a context object per Redis command, a closure per batched item):
// compare CPU figures with a run without --waits.
import { channel, tracingChannel } from 'node:diagnostics_channel'
import { appendFileSync } from 'node:fs'
import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import { OriginAdmission } from '../../src/delivery/origin-admission.ts'
import { OriginGate } from '../../src/delivery/origin-gate.ts'
import { DEFAULT_CONCURRENCY_LIMIT } from '../../src/delivery/concurrency-limit.ts'
import { ConsumerLoop } from '../../src/kafka/consumer-loop.ts'
import { MicroBatcher } from '../../src/lib/micro-batcher.ts'

const file = process.env.WAIT_PROBE_FILE
const INTERVAL_MS = 100

/** How many items are in one state, integrated over time. */
class Level {
  #n = 0
  #at = performance.now()
  #area = 0
  #busy = 0
  #ends = 0

  change(delta: number): void {
    const now = performance.now()
    this.#advance(now)
    this.#n += delta
    if (delta < 0) this.#ends -= delta
  }

  take(): { area: number; busy: number; ends: number; now: number } {
    this.#advance(performance.now())
    const taken = { area: round(this.#area), busy: round(this.#busy), ends: this.#ends, now: this.#n }
    this.#area = 0
    this.#busy = 0
    this.#ends = 0
    return taken
  }

  #advance(now: number): void {
    const dt = now - this.#at
    this.#area += this.#n * dt
    if (this.#n > 0) this.#busy += dt
    this.#at = now
  }
}

const levels = new Map<string, Level>()
function level(name: string): Level {
  let found = levels.get(name)
  if (found === undefined) {
    found = new Level()
    levels.set(name, found)
  }
  return found
}

function round(value: number): number {
  return Math.round(value * 10) / 10
}

/** Where a call came from: the first frame outside this file, e.g. "NotificationStore.claim". */
function callerName(): string {
  const lines = (new Error().stack ?? '').split('\n').slice(1)
  const outside = lines.find((line) => !line.includes('wait-probe.ts'))
  const match = /at (?:async )?([\w.<>#]+) \(.*\/([\w.-]+\.ts)/.exec(outside ?? '')
  if (!match) return 'unknown'
  // A private method's frame has no class name: say its file.
  return match[1]!.startsWith('#') ? `${match[2]}${match[1]}` : match[1]!
}

function hookBatchers(): void {
  const names = new WeakMap<object, { name: string; pending: number }>()
  const proto = MicroBatcher.prototype as unknown as { add: (this: object, item: unknown) => Promise<unknown>; flush: (this: object) => void }
  const add = proto.add
  const flush = proto.flush
  proto.add = function (this: object, item: unknown) {
    let state = names.get(this)
    if (state === undefined) {
      state = { name: callerName(), pending: 0 }
      names.set(this, state)
    }
    state.pending++
    const name = state.name
    level(`${name}.linger`).change(1)
    const settled = () => level(`${name}.trip`).change(-1)
    const promise = add.call(this, item)
    promise.then(settled, settled)
    return promise
  }
  proto.flush = function (this: object) {
    const state = names.get(this)
    if (state !== undefined && state.pending > 0) {
      level(`${state.name}.linger`).change(-state.pending)
      level(`${state.name}.trip`).change(state.pending)
      level(`${state.name}.batches`).change(1)
      level(`${state.name}.batches`).change(-1)
      state.pending = 0
    }
    flush.call(this)
  }
}

const loops = new Set<ConsumerLoop>()
const gates = new Set<OriginGate>()
/** Origins asked for a slot since the last sample. */
const originsSeen = new Set<string>()

function hookLoopsAndOrigins(): void {
  const loopProto = ConsumerLoop.prototype as unknown as { start: (this: ConsumerLoop) => Promise<void> }
  const start = loopProto.start
  loopProto.start = function (this: ConsumerLoop) {
    loops.add(this)
    return start.call(this)
  }
  type Ticketish = { ok: boolean; ticket?: { origin: string } }
  const gateProto = OriginGate.prototype as unknown as Record<'acquire' | 'release' | 'abandon', (this: OriginGate, ...args: unknown[]) => unknown>
  const acquire = gateProto.acquire
  gateProto.acquire = function (this: OriginGate, ...args: unknown[]) {
    gates.add(this)
    originsSeen.add(String(args[0]))
    const decision = acquire.apply(this, args) as Ticketish
    if (decision.ok) level('origin.tickets').change(1)
    return decision
  }
  for (const method of ['release', 'abandon'] as const) {
    const original = gateProto[method]
    gateProto[method] = function (this: OriginGate, ...args: unknown[]) {
      level('origin.tickets').change(-1)
      return original.apply(this, args)
    }
  }
  const admissionProto = OriginAdmission.prototype as unknown as { admit: (this: OriginAdmission, ...args: unknown[]) => unknown }
  const admit = admissionProto.admit
  admissionProto.admit = function (this: OriginAdmission, ...args: unknown[]) {
    const result = admit.apply(this, args)
    if (result instanceof Promise) {
      level('admit.wait').change(1)
      const settled = () => level('admit.wait').change(-1)
      result.then(settled, settled)
    }
    return result
  }
}

/** A tracing channel's calls as a level: start → asyncEnd. */
function traceLevel(channelName: string, name: string | ((context: object) => string)): void {
  const open = new WeakMap<object, string>()
  const close = (context: object) => {
    const opened = open.get(context)
    if (opened === undefined) return
    open.delete(context)
    level(opened).change(-1)
  }
  tracingChannel(channelName).subscribe({
    start(context) {
      const opened = typeof name === 'string' ? name : name(context)
      open.set(context, opened)
      level(opened).change(1)
    },
    end() {},
    asyncStart() {},
    asyncEnd: (context) => close(context),
    error() {},
  })
}

function hookChannels(): void {
  traceLevel('ioredis:command', 'redis')
  // The input loop's group is the bench's KAFKA_GROUP_ID; the retry tiers' loops fetch too (long polls, mostly empty).
  const inputGroup = process.env.KAFKA_GROUP_ID
  traceLevel('plt:kafka:consumer:fetches', (context) => ((context as { client?: { groupId?: string } }).client?.groupId === inputGroup ? 'kafka.fetch.input' : 'kafka.fetch.retry'))
  traceLevel('plt:kafka:producer:sends', 'kafka.produce')
  const requests = new WeakSet<object>()
  const done = (message: unknown) => {
    const request = (message as { request: object }).request
    if (requests.delete(request)) level('http').change(-1)
  }
  channel('undici:request:create').subscribe((message) => {
    requests.add((message as { request: object }).request)
    level('http').change(1)
  })
  channel('undici:request:trailers').subscribe(done)
  channel('undici:request:error').subscribe(done)
}

/** The concurrency limits of the origins asked for a slot since the last sample, summed (one that never moved is at its initial limit). */
function originLimit(): number {
  const moved = new Map<string, number>()
  for (const gate of gates) for (const { origin, limit } of gate.limits()) moved.set(origin, limit)
  let limit = 0
  for (const origin of originsSeen) limit += moved.get(origin) ?? DEFAULT_CONCURRENCY_LIMIT.initial
  originsSeen.clear()
  return limit
}

if (file) {
  hookBatchers()
  hookLoopsAndOrigins()
  hookChannels()
  let previous: EventLoopUtilization = performance.eventLoopUtilization()
  let previousCpu = process.cpuUsage()
  let previousAt = performance.now()
  const sample = () => {
    const now = performance.eventLoopUtilization()
    const elu = performance.eventLoopUtilization(now, previous).utilization
    previous = now
    const at = performance.now()
    const cpu = process.cpuUsage(previousCpu)
    previousCpu = process.cpuUsage()
    const dt = at - previousAt
    previousAt = at
    const taken: Record<string, ReturnType<Level['take']>> = {}
    for (const [name, found] of levels) taken[name] = found.take()
    const line = {
      t: Date.now(),
      dt: round(dt),
      elu: Math.round(elu * 1000) / 1000,
      /** CPU time of the whole process (all threads) over the interval ÷ the interval. */
      cpu: Math.round((cpu.user + cpu.system) / 1000 / dt * 1000) / 1000,
      loops: [...loops].filter((loop) => loop.inFlight > 0 || loop.name === 'input').map((loop) => ({ name: loop.name, inFlight: loop.inFlight, limit: loop.inFlightLimit })),
      originLimit: originLimit(),
      levels: taken,
    }
    appendFileSync(file, `${JSON.stringify(line)}\n`)
  }
  setInterval(sample, INTERVAL_MS).unref()
}
