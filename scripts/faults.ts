// Fault injection: proves "nothing lost, nothing twice" against the real local broker, a Redis
// of its own (AOF on, port 6390) and a local receiver, and prints a table.
//
//   npm run faults                               all scenarios, 20000 notifications each
//   npm run faults -- --n 500                    smoke run
//   npm run faults -- --scenario kill9 --json out.json
//
// Scenarios: kill9, broker-restart, redis-outage, flaky-receiver, replicas, poison.
// Options: --n N, --scenario NAME[,NAME], --json FILE, --grace S (wait after the last fault,
// default 180), --duration S (how long the stream of N lasts; default max(40, N/250)),
// --redis-port P (6390), --by-key (let the key pick the partition: all records in one, as the
// real producer does; default spreads them round-robin), --keep-topics, --seed N.
// Exit code 0 when no scenario lost a notification, else 1.
import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { BROKERS, brokerMaxMessageBytes, createTopic, deleteTopicsWithPrefix, produceSteadily, shortError, TopicReader, type OutRecord, type ReadRecord } from './faults/kafka.ts'
import { ensureBrokerRunning, kafkaSh, killAllChildrenNow, OwnRedis, Replica, ROOT, sleep } from './faults/procs.ts'
import { bar, Progress } from './faults/progress.ts'
import { Receiver, type Flakiness } from './faults/receiver.ts'

// -------------------------------------------------------------------- options ---

const SCENARIOS = ['kill9', 'broker-restart', 'redis-outage', 'flaky-receiver', 'replicas', 'poison'] as const
type ScenarioName = (typeof SCENARIOS)[number]

const { values: args } = parseArgs({
  options: {
    n: { type: 'string', default: '20000' },
    scenario: { type: 'string', multiple: true },
    json: { type: 'string' },
    grace: { type: 'string', default: '180' },
    duration: { type: 'string' },
    'redis-port': { type: 'string', default: '6390' },
    'by-key': { type: 'boolean', default: false },
    'keep-topics': { type: 'boolean', default: false },
    seed: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
})

if (args.help) {
  console.log(readFileSync(new URL(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).slice(0, 13).map((l) => l.slice(3)).join('\n'))
  process.exit(0)
}

function positive(name: string, text: string | undefined): number {
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number, got "${text}"`)
    process.exit(2)
  }
  return value
}

const N = Math.floor(positive('n', args.n))
const GRACE_MS = positive('grace', args.grace) * 1000
const DURATION_MS = args.duration === undefined ? Math.max(40, N / 250) * 1000 : positive('duration', args.duration) * 1000
const REDIS_PORT = positive('redis-port', args['redis-port'])
const chosen = (args.scenario ?? []).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean)
for (const name of chosen) {
  if (!(SCENARIOS as readonly string[]).includes(name)) {
    console.error(`unknown scenario "${name}"; one of ${SCENARIOS.join(', ')}`)
    process.exit(2)
  }
}
const selected: ScenarioName[] = chosen.length > 0 ? SCENARIOS.filter((s) => chosen.includes(s)) : [...SCENARIOS]

// small deterministic PRNG for the fault moments, so a run can be repeated with --seed
let seed = args.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Math.floor(positive('seed', args.seed))
const SEED = seed
function random(): number {
  seed = (seed * 1103515245 + 12345) % 2 ** 31
  return seed / 2 ** 31
}

// --------------------------------------------------------------------- state ---

const progress = new Progress()
const receiver = new Receiver()
const workDir = mkdtempSync(join(tmpdir(), 'faults-'))
const redis = new OwnRedis(REDIS_PORT, join(workDir, 'redis'))
const abort = new AbortController()
let nextId = Date.now() * 1000
let redisStarted = false

/** Like sleep, but rejects as soon as the run is interrupted (Ctrl-C). */
function pause(ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (abort.signal.aborted) return reject(new Error('interrupted'))
    const onAbort = () => {
      clearTimeout(timer)
      reject(new Error('interrupted'))
    }
    const timer = setTimeout(() => {
      abort.signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    abort.signal.addEventListener('abort', onAbort, { once: true })
  })
}

type EventKind = 'kill9' | 'sigterm' | 'start' | 'broker-down' | 'broker-up' | 'redis-down' | 'redis-up' | 'crash' | 'info'
interface FaultEvent {
  at: number
  kind: EventKind
  text: string
}

interface Row {
  scenario: ScenarioName
  sent: number
  deliveredOnce: number
  deliveredTwice: number
  lost: number
  deadLettered: number
  maxDelayMs: number | null
  wallMs: number
  settled: boolean
  duplicates: string
  notes: string[]
  settings: Record<string, string>
  events: Array<{ atMs: number; kind: EventKind; text: string }>
  lostIds: number[]
  error?: string
}

// ---------------------------------------------------------------- scenarios ---

interface Ctx {
  streamStart: number
  fleet: Fleet
  event(kind: EventKind, text: string): void
  /** Sleeps until this share of the stream's duration has passed. */
  at(share: number): Promise<void>
}

interface Scenario {
  summary: string
  env?: Record<string, string>
  flaky?: Flakiness
  poison?: boolean
  minGraceMs?: number
  faults(ctx: Ctx): Promise<void>
}

const scenarios: Record<ScenarioName, Scenario> = {
  kill9: {
    summary: 'SIGKILL the service three times at random moments mid-stream; restart it each time',
    async faults(ctx) {
      let readyAt = Date.now()
      for (const share of spreadMoments(3, 0.15, 0.85, 0.12)) {
        await ctx.at(share)
        // a restarted replica works a little (2-6 s) before it is killed again
        await pause(Math.max(0, readyAt + 2000 + random() * 4000 - Date.now()))
        const victim = ctx.fleet.live[0]
        if (!victim) continue
        await victim.waitReady().catch(() => undefined)
        victim.kill9()
        ctx.event('kill9', `kill -9 ${victim.name} (pid ${victim.pid})`)
        await victim.exited
        const started = Date.now()
        const next = await ctx.fleet.add()
        readyAt = Date.now()
        ctx.event('start', `restarted as ${next.name}, ready in ${((readyAt - started) / 1000).toFixed(1)} s`)
      }
    },
  },
  'broker-restart': {
    summary: 'stop the Kafka broker (kafka.sh stop) mid-stream, start it again 10 s later',
    async faults(ctx) {
      await ctx.at(0.3)
      ctx.event('broker-down', 'kafka.sh stop')
      const stop = await kafkaSh('stop')
      ctx.event('info', `broker stopped (${stop.output.split('\n').at(-1) ?? ''})`)
      await pause(10_000)
      ctx.event('info', 'kafka.sh start')
      const start = await kafkaSh('start')
      if (start.code !== 0) throw new Error(`kafka.sh start failed: ${start.output}`)
      ctx.event('broker-up', `broker back (${start.output.split('\n').at(-1) ?? ''})`)
    },
  },
  'redis-outage': {
    summary: `Redis (own instance, AOF) shut down mid-stream for 10 s, then started again`,
    async faults(ctx) {
      await ctx.at(0.35)
      ctx.event('redis-down', `redis-cli -p ${redis.port} shutdown (AOF keeps the data)`)
      await redis.shutdown(true)
      await pause(10_000)
      await redis.start()
      ctx.event('redis-up', `redis-server on ${redis.port} answers again`)
    },
  },
  'flaky-receiver': {
    summary: 'receiver answers 503 to 30 % of requests and never answers 5 %',
    env: { CALLBACK_TIMEOUT_MS: '2000', RETRY_SCHEDULE: '1s,2s,4s,8s,8s,8s,8s,8s' },
    flaky: { fail503: 0.3, hang: 0.05 },
    minGraceMs: 300_000,
    async faults() {},
  },
  replicas: {
    summary: 'one replica, then three in the same group, then back to one (SIGTERM), while the stream runs',
    async faults(ctx) {
      await ctx.at(0.25)
      const added = await Promise.all([ctx.fleet.add(), ctx.fleet.add()])
      ctx.event('start', `scaled to ${ctx.fleet.live.length}: ${added.map((r) => r.name).join(', ')} ready`)
      await ctx.at(0.65)
      const leaving = ctx.fleet.live.slice(0, 2)
      const exits = await Promise.all(
        leaving.map(async (replica) => {
          ctx.event('sigterm', `SIGTERM ${replica.name}`)
          const started = Date.now()
          const exit = await ctx.fleet.stop(replica)
          return `${replica.name} exit ${exit.code ?? exit.signal} in ${((Date.now() - started) / 1000).toFixed(1)} s`
        }),
      )
      ctx.event('info', `scaled back to ${ctx.fleet.live.length} (${exits.join('; ')})`)
    },
  },
  poison: {
    summary: 'about 2 % malformed records with our key mixed in: not JSON, bad schema, ftp:// callback, > 1 MiB',
    poison: true,
    async faults() {},
  },
}

/** `count` moments between `from` and `to` (shares of the stream), at least `gap` apart. */
function spreadMoments(count: number, from: number, to: number, gap: number): number[] {
  for (;;) {
    const moments = Array.from({ length: count }, () => from + random() * (to - from)).sort((a, b) => a - b)
    if (moments.every((m, i) => i === 0 || m - (moments[i - 1] ?? 0) >= gap)) return moments
  }
}

// ---------------------------------------------------------------- replicas ---

/** The running replicas of one scenario; one that dies unexpectedly is reported and replaced. */
class Fleet {
  readonly live: Replica[] = []
  readonly crashes: string[] = []
  readonly #env: Record<string, string>
  readonly #logDir: string
  readonly #event: Ctx['event']
  #closing = false

  constructor(env: Record<string, string>, logDir: string, event: Ctx['event']) {
    this.#env = env
    this.#logDir = logDir
    this.#event = event
  }

  async add(): Promise<Replica> {
    for (let attempt = 1; ; attempt++) {
      if (abort.signal.aborted || this.#closing) throw new Error('interrupted')
      const replica = await Replica.start(this.#env, this.#logDir)
      this.live.push(replica)
      void replica.exited.then((exit) => this.#onExit(replica, exit))
      try {
        await replica.waitReady(120_000, abort.signal)
        return replica
      } catch (error) {
        if (attempt >= 3 || this.#closing) throw error
        this.#event('crash', `${shortError(error)}; trying again`)
        if (replica.running) await this.stop(replica)
        await sleep(1000)
      }
    }
  }

  async stop(replica: Replica, graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    const exit = await replica.stop(graceMs)
    this.#remove(replica)
    return exit
  }

  async stopAll(graceMs: number): Promise<string[]> {
    this.#closing = true
    const results = await Promise.all(
      [...this.live].map(async (replica) => {
        const exit = await this.stop(replica, graceMs)
        return exit.code === 0 ? undefined : `${replica.name} ended with ${exit.code ?? exit.signal} on SIGTERM (log: ${replica.logFile})`
      }),
    )
    return results.filter((r): r is string => r !== undefined)
  }

  #remove(replica: Replica): void {
    const index = this.live.indexOf(replica)
    if (index >= 0) this.live.splice(index, 1)
  }

  #onExit(replica: Replica, exit: { code: number | null; signal: NodeJS.Signals | null }): void {
    this.#remove(replica)
    if (replica.expectedExit || this.#closing) return
    const text = `${replica.name} exited by itself (${exit.code ?? exit.signal}): ${replica.firstError()} (log: ${replica.logFile})`
    this.crashes.push(text)
    if (!replica.wasReady) return // add() reports it and tries again
    this.#event('crash', `UNEXPECTED: ${text}; starting a replacement`)
    this.add().catch((error: unknown) => this.#event('crash', `replacement failed: ${shortError(error)}`))
  }
}

// ----------------------------------------------------------------- records ---

interface Good {
  id: number
  record: OutRecord
}

interface Poison {
  token: string
  kind: 'not-json' | 'schema' | 'callback-url' | 'oversized'
  record: OutRecord
  id?: number
}

function goodRecord(id: number, i: number): OutRecord {
  const callback_url = `${receiver.url}/n/${id}`
  const base = { callback_url, processing_id: id, user_id: 2, resume_id: 3, requirements_id: 4 }
  // 90 % successes, 5 % processing errors, 5 % rate limits: every shape of contract §1
  const value =
    i % 20 === 7
      ? { success: false, response: { ...base, score: null, matches: null, recommendation: null, verdict: null }, message_error: 'AI model failed', wait_seconds: null }
      : i % 20 === 13
        ? { success: false, response: base, message_error: 'AI provider rate limit', wait_seconds: 30 }
        : { success: true, response: { ...base, score: 50 + (i % 50), matches: ['Python', 'SQL'], recommendation: 'Invite to an interview', verdict: 'suitable' }, message_error: null, wait_seconds: null }
  return { key: 'new_sending', value: JSON.stringify(value) }
}

const OVERSIZED_BYTES = Math.floor(1.5 * 1024 * 1024)
const MAX_OVERSIZED = 10

function poisonRecords(count: number, tag: string, ids: Set<number>): Poison[] {
  const kinds = ['not-json', 'schema', 'callback-url', 'oversized'] as const
  const out: Poison[] = []
  let oversized = 0
  for (let k = 0; k < count; k++) {
    let kind: Poison['kind'] = kinds[k % 4] ?? 'schema'
    if (kind === 'oversized' && oversized >= MAX_OVERSIZED) kind = kinds[k % 3] ?? 'schema'
    const token = `fault-poison-${tag}-${k}`
    const id = nextId++
    const response = { callback_url: `${receiver.url}/n/${id}`, processing_id: id, user_id: 2, resume_id: 3, requirements_id: 4, score: 1, matches: [], recommendation: token, verdict: token }
    let value: string
    if (kind === 'not-json') {
      value = `{"success": true, "response": {"processing_id": ${id}, "verdict": "${token}"`
    } else if (kind === 'schema') {
      value = JSON.stringify({ success: true, response: { ...response, processing_id: token }, message_error: null, wait_seconds: null })
    } else if (kind === 'callback-url') {
      ids.add(id)
      value = JSON.stringify({ success: true, response: { ...response, callback_url: `ftp://127.0.0.1/${token}` }, message_error: null, wait_seconds: null })
    } else {
      oversized++
      ids.add(id)
      // the token first: the dead letter keeps only the record's first 64 KiB
      const head = JSON.stringify({ fault_token: token, success: true, response: { ...response, recommendation: '' }, message_error: null, wait_seconds: null })
      const padding = 'x'.repeat(OVERSIZED_BYTES - head.length)
      value = head.replace('"recommendation":""', `"recommendation":"${padding}"`)
    }
    out.push({ token, kind, id: kind === 'callback-url' || kind === 'oversized' ? id : undefined, record: { key: 'new_sending', value, alone: kind === 'oversized' } })
  }
  return out
}

/** Topic variables the service reads (KAFKA_TOPIC_* and any newer *TOPIC* ones, e.g. retry topics), each given a fresh name. */
function topicEnv(prefix: string): Record<string, string> {
  const names = new Set(['KAFKA_TOPIC_FOR_SENDING', 'KAFKA_TOPIC_FOR_AI_HANDLER', 'KAFKA_TOPIC_DLQ', 'KAFKA_TOPIC_FOR_NOTIFICATIONS'])
  for (const file of ['src/config/schema.ts', '.env.example']) {
    try {
      for (const match of readFileSync(join(ROOT, file), 'utf8').matchAll(/\b[A-Z][A-Z0-9_]*TOPIC[A-Z0-9_]*\b/g)) names.add(match[0])
    } catch {
      // file moved: the known names are enough
    }
  }
  const env: Record<string, string> = { KAFKA_GROUP_ID: `${prefix}.group` }
  for (const name of names) env[name] = `${prefix}.${name.toLowerCase().replace(/^kafka_topic_(for_)?/, '').replace(/_/g, '-')}`
  return env
}

// ------------------------------------------------------------------ running ---

async function runScenario(name: ScenarioName): Promise<Row> {
  const scenario = scenarios[name]
  const t0 = Date.now()
  const tag = randomUUID().slice(0, 8)
  const prefix = `faults-${name}-${tag}`
  const topics = topicEnv(prefix)
  const logDir = join(workDir, name)
  mkdirSync(logDir, { recursive: true })
  const events: FaultEvent[] = []
  const notes: string[] = []
  const event = (kind: EventKind, text: string) => {
    events.push({ at: Date.now(), kind, text })
    progress.line(`  [${name} +${((Date.now() - t0) / 1000).toFixed(1)}s] ${text}`)
  }

  // the records: N results (and poison), ids unique across runs
  const good: Good[] = Array.from({ length: N }, (_, i) => {
    const id = nextId++
    return { id, record: goodRecord(id, i) }
  })
  const watched = new Set(good.map((g) => g.id))
  const poison = scenario.poison ? poisonRecords(Math.max(4, Math.round(N * 0.02)), tag, watched) : []
  const records = interleave(good.map((g) => g.record), poison.map((p) => p.record))
  receiver.reset(watched, scenario.flaky)

  const env: Record<string, string> = {
    MODE: 'TEST',
    KAFKA_BOOTSTRAP_SERVERS: BROKERS.join(','),
    REDIS_URL: redis.url,
    CALLBACK_ALLOWED_NETWORKS: '127.0.0.0/8',
    LOG_LEVEL: 'warn',
    LOG_DIR: logDir,
    ...topics,
    ...scenario.env,
  }
  const settings: Record<string, string> = { ...scenario.env, records: `${records.length} over ${(DURATION_MS / 1000).toFixed(0)} s`, partitioning: args['by-key'] ? 'by key' : 'round-robin' }
  if (scenario.flaky) settings.receiver = `503 ${scenario.flaky.fail503 * 100} %, hang ${scenario.flaky.hang * 100} %`

  if (scenario.poison) {
    const brokerMax = await brokerMaxMessageBytes()
    const topicMax = 2 * 1024 * 1024
    await createTopic(env.KAFKA_TOPIC_FOR_SENDING ?? '', 6, { 'max.message.bytes': String(topicMax) })
    const sizes = poison.filter((p) => p.kind === 'oversized').map((p) => p.record.value.length)
    settings.oversized = `${sizes.length} × ${sizes[0] ?? 0} B (broker message.max.bytes ${brokerMax}; sending topic created with max.message.bytes ${topicMax})`
  }

  // delivery bookkeeping
  const dlqIds = new Map<number, { code: string; reason: string }>()
  const poisonFound = new Map<string, { code: string; reason: string }>()
  const unmatchedLetters: string[] = []
  const poisonByToken = new Map(poison.map((p) => [p.token, p]))
  const onLetter = (record: ReadRecord) => {
    let letter: { reason?: string; code?: string; processing_id?: number | null; original?: string }
    try {
      letter = JSON.parse(record.value) as typeof letter
    } catch {
      unmatchedLetters.push(`not JSON at ${record.partition}:${record.offset}`)
      return
    }
    const info = { code: String(letter.code ?? record.headers.get('dlq-code') ?? '?'), reason: String(letter.reason ?? '') }
    const original = letter.original ?? ''
    const token = /fault-poison-[0-9a-f]{8}-\d+/.exec(original.slice(0, 400))?.[0] ?? /fault-poison-[0-9a-f]{8}-\d+/.exec(original)?.[0]
    if (token && poisonByToken.has(token)) {
      poisonFound.set(token, info)
      return
    }
    let id = typeof letter.processing_id === 'number' ? letter.processing_id : undefined
    if (id === undefined) {
      try {
        const parsed = JSON.parse(original) as { response?: { processing_id?: unknown } }
        if (typeof parsed.response?.processing_id === 'number') id = parsed.response.processing_id
      } catch {
        // not ours
      }
    }
    if (id !== undefined && watched.has(id)) dlqIds.set(id, info)
    else unmatchedLetters.push(`${info.code} ${info.reason.slice(0, 80)}`)
  }

  const fleet = new Fleet(env, logDir, event)
  const dlq = new TopicReader(env.KAFKA_TOPIC_DLQ ?? '', onLetter)
  let produced = 0
  let phase = 'starting'
  const undecided = () => {
    let open = 0
    for (const g of good) if (receiver.stats(g.id)?.firstOkAt === undefined && !dlqIds.has(g.id)) open++
    for (const p of poison) if (!poisonFound.has(p.token)) open++
    return open
  }
  progress.start(() => {
    const open = undecided()
    return `[${name}] ${phase} ${bar(produced, records.length)} produced ${produced}/${records.length} delivered ${receiver.delivered} dup ${receiver.duplicates} dlq ${dlqIds.size + poisonFound.size} open ${open} replicas ${fleet.live.length} ${((Date.now() - t0) / 1000).toFixed(0)}s`
  })

  let settled = false
  let wallMs: number
  let error: string | undefined
  try {
    await fleet.add()
    dlq.start()
    phase = 'streaming'
    const streamStart = Date.now()
    const ctx: Ctx = {
      streamStart,
      fleet,
      event,
      at: async (share) => pause(Math.max(0, streamStart + share * DURATION_MS - Date.now())),
    }
    const producing = produceSteadily({
      topic: env.KAFKA_TOPIC_FOR_SENDING ?? '',
      records,
      durationMs: DURATION_MS,
      byKey: args['by-key'] === true,
      signal: abort.signal,
      onEvent: (text) => event('info', text),
      onProgress: (count) => (produced = count),
    })
    const faulting = scenario.faults(ctx)
    const [p, f] = await Promise.allSettled([producing, faulting])
    if (p.status === 'rejected') throw p.reason
    if (f.status === 'rejected') throw f.reason

    // wait until every notification is delivered or dead-lettered, up to the deadline
    phase = 'settling'
    const lastFault = Date.now()
    const deadline = lastFault + Math.max(GRACE_MS, scenario.minGraceMs ?? 0)
    while (Date.now() < deadline && !abort.signal.aborted) {
      if (undecided() === 0) {
        settled = true
        break
      }
      await sleep(500)
    }
    wallMs = Date.now() - t0
    if (!settled) event('info', `deadline reached ${(Math.max(GRACE_MS, scenario.minGraceMs ?? 0) / 1000).toFixed(0)} s after the last fault with ${undecided()} open`)
    phase = 'checking'
    if (!abort.signal.aborted) await sleep(3000) // late duplicates
  } catch (e) {
    error = abort.signal.aborted ? 'interrupted' : shortError(e)
    wallMs = Date.now() - t0
    event('info', `scenario failed: ${error}`)
  } finally {
    phase = 'stopping'
    const leftovers = await ensureBrokerRunning().catch((e: unknown) => `broker: ${shortError(e)}`)
    if (leftovers) notes.push(`broker had to be started again after the scenario: ${leftovers.split('\n').at(-1)}`)
    const interrupted = abort.signal.aborted
    if (!interrupted && !redis.ping()) {
      await redis.start().catch((e: unknown) => notes.push(`Redis restart failed: ${shortError(e)}`))
    }
    if (!interrupted && !(await dlq.catchUp(30_000))) notes.push('dead-letter topic could not be read to its end')
    notes.push(...(await fleet.stopAll(interrupted ? 10_000 : 45_000)))
    if (!interrupted) await dlq.catchUp(15_000) // anything written while stopping
    await dlq.stop()
    progress.stop()
    if (!args['keep-topics']) await deleteTopicsWithPrefix(prefix).catch((e: unknown) => notes.push(`deleting topics: ${shortError(e)}`))
  }

  // ---- the numbers
  let once = 0
  let twice = 0
  let lost = 0
  let unproduced = 0
  let maxDelay: number | null = null
  const lostIds: number[] = []
  const duplicated: number[] = []
  let deliveredAndDead = 0
  for (const g of good) {
    const stats = receiver.stats(g.id)
    const oks = stats?.okAt.length ?? 0
    if (oks === 1) once++
    if (oks >= 2) {
      twice++
      duplicated.push(g.id)
    }
    if (oks >= 1 && dlqIds.has(g.id)) deliveredAndDead++
    if (oks === 0 && !dlqIds.has(g.id) && g.record.producedAt === undefined) unproduced++
    else if (oks === 0 && !dlqIds.has(g.id)) {
      lost++
      lostIds.push(g.id)
    }
    if (stats?.firstOkAt !== undefined && g.record.producedAt !== undefined) maxDelay = Math.max(maxDelay ?? 0, stats.firstOkAt - g.record.producedAt)
  }
  const poisonLost = poison.filter((p) => !poisonFound.has(p.token) && p.record.producedAt !== undefined)
  if (unproduced > 0) notes.push(`${unproduced} results were never produced (run cut short); not counted as lost`)
  lost += poisonLost.length
  const deadGood = good.filter((g) => dlqIds.has(g.id) && (receiver.stats(g.id)?.okAt.length ?? 0) === 0).length
  const deadLettered = deadGood + poisonFound.size

  if (dlqIds.size > 0) {
    const codes = countBy([...dlqIds.values()].map((v) => v.code))
    notes.push(`${dlqIds.size} results dead-lettered after failed deliveries (${codes})`)
  }
  if (deliveredAndDead > 0) notes.push(`ANOMALY: ${deliveredAndDead} delivered AND dead-lettered`)
  if (poison.length > 0) {
    const byKind = countBy(poison.map((p) => p.kind))
    const codes = [...new Set(poison.map((p) => p.kind))]
      .map((kind) => `${kind}→${[...new Set(poison.filter((p) => p.kind === kind).map((p) => poisonFound.get(p.token)?.code ?? 'MISSING'))].join('/')}`)
      .join(', ')
    const noReason = poison.filter((p) => poisonFound.has(p.token) && !poisonFound.get(p.token)?.reason).length
    notes.push(`poison: ${poisonFound.size}/${poison.length} found in the dead-letter topic with a reason (${byKind}; codes ${codes})${noReason ? `; ${noReason} WITHOUT a reason` : ''}`)
    const poisonDelivered = poison.filter((p) => p.id !== undefined && (receiver.stats(p.id)?.okAt.length ?? 0) > 0).length
    if (poisonDelivered > 0) notes.push(`ANOMALY: ${poisonDelivered} poison records were delivered`)
    for (const p of poisonLost.slice(0, 4)) notes.push(`poison NOT dead-lettered: ${p.kind} (${p.record.value.length} B, token ${p.token})`)
  }
  if (unmatchedLetters.length > 0) notes.push(`${unmatchedLetters.length} dead letters matched nothing sent: ${unmatchedLetters.slice(0, 2).join('; ')}`)
  if (receiver.unattributed > 0) notes.push(`${receiver.unattributed} requests carried no processing_id of this scenario`)
  if (fleet.crashes.length > 0) notes.push(`${fleet.crashes.length} unexpected replica exits: ${fleet.crashes[0]}`)
  if (scenario.flaky) {
    let hung = 0
    let failed = 0
    for (const g of good) {
      hung += receiver.stats(g.id)?.hung ?? 0
      failed += receiver.stats(g.id)?.failed503 ?? 0
    }
    notes.push(`receiver answered 503 ${failed} times and hung ${hung} times (${receiver.requests} requests)`)
  }
  for (const id of lostIds.slice(0, 3)) {
    const g = good.find((x) => x.id === id)
    const s = receiver.stats(id)
    notes.push(`LOST processing_id ${id}: produced at +${(((g?.record.producedAt ?? t0) - t0) / 1000).toFixed(1)} s, requests seen: 503×${s?.failed503 ?? 0}, hung×${s?.hung ?? 0}, 2xx×0 (logs: ${logDir})`)
  }
  if (error) notes.push(`error: ${error}`)

  return {
    scenario: name,
    sent: records.length,
    deliveredOnce: once,
    deliveredTwice: twice,
    lost,
    deadLettered,
    maxDelayMs: maxDelay,
    wallMs,
    settled,
    duplicates: explainDuplicates(duplicated, events),
    notes,
    settings,
    events: events.map((e) => ({ atMs: e.at - t0, kind: e.kind, text: e.text })),
    lostIds,
    ...(error ? { error } : {}),
  }
}

function interleave(good: OutRecord[], bad: OutRecord[]): OutRecord[] {
  if (bad.length === 0) return good
  const out: OutRecord[] = []
  const step = good.length / (bad.length + 1)
  let b = 0
  good.forEach((record, i) => {
    while (b < bad.length && i >= Math.round(step * (b + 1))) out.push(bad[b++] as OutRecord)
    out.push(record)
  })
  while (b < bad.length) out.push(bad[b++] as OutRecord)
  return out
}

function countBy(items: string[]): string {
  const counts = new Map<string, number>()
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1)
  return [...counts].map(([k, v]) => `${k} ${v}`).join(', ')
}

/** Why each duplicate happened: the fault that fell between its first and second 2xx. */
function explainDuplicates(ids: number[], events: FaultEvent[]): string {
  if (ids.length === 0) return 'none'
  const causes = new Map<string, { count: number; gaps: number[] }>()
  let sameWebhookId = 0
  const odd: string[] = []
  for (const id of ids) {
    const stats = receiver.stats(id)
    const first = stats?.okAt[0] ?? 0
    const second = stats?.okAt[1] ?? 0
    if (stats?.webhookIds.size === 1) sameWebhookId++
    const between = (kinds: EventKind[]) => events.find((e) => kinds.includes(e.kind) && e.at >= first - 100 && e.at <= second)
    const windowOverlaps = (down: EventKind, up: EventKind) => {
      const start = events.find((e) => e.kind === down)?.at
      const end = events.find((e) => e.kind === up)?.at ?? Number.POSITIVE_INFINITY
      return start !== undefined && first <= end && second >= start
    }
    let cause: string
    let gap: number
    const kill = between(['kill9'])
    const term = between(['sigterm'])
    const crash = between(['crash'])
    if (kill) {
      cause = "kill -9 between the client's 2xx and the Redis done marker"
      gap = kill.at - first
    } else if (crash) {
      cause = 'a replica crashed between the 2xx and the done marker'
      gap = crash.at - first
    } else if (term) {
      cause = 'graceful stop (SIGTERM) of a replica between the 2xx and the done marker (not expected: in-flight work should finish)'
      gap = term.at - first
    } else if (windowOverlaps('broker-down', 'broker-up')) {
      cause = 'broker restart between the two deliveries'
      gap = second - first
    } else if (windowOverlaps('redis-down', 'redis-up')) {
      cause = 'Redis outage between the two deliveries'
      gap = second - first
    } else {
      cause = 'NO fault between the two deliveries (unexpected)'
      gap = second - first
      if (odd.length < 3) odd.push(`${id}: 2xx at +${first} and +${second} ms apart ${second - first}`)
    }
    const entry = causes.get(cause) ?? { count: 0, gaps: [] }
    entry.count++
    entry.gaps.push(gap)
    causes.set(cause, entry)
  }
  const parts = [...causes].map(([cause, { count, gaps }]) => {
    const lo = Math.min(...gaps)
    const hi = Math.max(...gaps)
    if (!/^kill|stop|crash/.test(cause)) return `${count}× ${cause} (${lo === hi ? lo : `${lo}–${hi}`} ms between the copies)`
    // gap = fault time - first 2xx: positive when the 2xx came first
    const range = lo === hi ? `${lo}` : `${lo}–${hi}`
    const span = lo >= 0 ? `first 2xx ${range} ms before it` : `first 2xx from ${hi} ms before to ${-lo} ms after the signal, i.e. answered as it died`
    return `${count}× ${cause} (${span})`
  })
  return `${parts.join('; ')}; ${sameWebhookId}/${ids.length} carried one webhook-id on every copy, so the client can drop the copy${odd.length ? `; e.g. ${odd.join(', ')}` : ''}`
}

// -------------------------------------------------------------------- output ---

function formatMs(ms: number | null): string {
  if (ms === null) return '-'
  return ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms} ms`
}

function printTable(rows: Row[]): void {
  const header = ['scenario', 'sent', 'delivered once', 'delivered twice+', 'lost', 'dead-lettered', 'max delay', 'wall time']
  const body = rows.map((r) => [
    r.scenario,
    String(r.sent),
    String(r.deliveredOnce),
    String(r.deliveredTwice),
    r.error ? `${r.lost}?` : String(r.lost),
    String(r.deadLettered),
    formatMs(r.maxDelayMs),
    formatMs(r.wallMs),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)))
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`
  console.log(line(header))
  console.log(`|${widths.map((w, i) => (i === 0 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`)
  for (const row of body) console.log(line(row))
  console.log()
  for (const r of rows) {
    console.log(`${r.scenario}: ${scenarios[r.scenario].summary}`)
    console.log(`  settings: ${Object.entries(r.settings).map(([k, v]) => `${k}=${v}`).join(', ')}`)
    if (r.events.length > 0) console.log(`  events: ${r.events.map((e) => `+${(e.atMs / 1000).toFixed(1)}s ${e.text}`).join('; ')}`)
    console.log(`  duplicates: ${r.duplicates}`)
    for (const note of r.notes) console.log(`  ${note}`)
    if (!r.settled && !r.error) console.log('  NOT SETTLED before the deadline')
  }
}

// ------------------------------------------------------------------ cleanup ---

let cleaning: Promise<void> | undefined
async function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    progress.stop()
    await receiver.close().catch(() => undefined)
    if (redisStarted) await redis.shutdown(false).catch(() => undefined)
    try {
      const started = await ensureBrokerRunning()
      if (started) console.error(`faults: the broker was not running; started it again (${started.split('\n').at(-1)})`)
    } catch (error) {
      console.error(`faults: could not start the Kafka broker again: ${shortError(error)}`)
    }
    rmSync(join(workDir, 'redis'), { recursive: true, force: true })
    killAllChildrenNow() // anything a scenario did not stop
  })()
  return cleaning
}

process.on('exit', () => {
  killAllChildrenNow()
  if (redisStarted) redis.killNow()
})
/** Last resort when a clean stop takes too long: kill what we started, make sure the broker runs. */
function forceExit(): never {
  progress.stop()
  killAllChildrenNow()
  if (redisStarted) redis.killNow()
  if (spawnSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'status'], { stdio: 'ignore' }).status !== 0) {
    console.error('faults: starting the Kafka broker again ...')
    spawnSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'start'], { stdio: 'inherit', timeout: 120_000 })
  }
  process.exit(130)
}

let interrupted = 0
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupted++
    if (interrupted > 1) {
      console.error('\nfaults: second interrupt: killing everything now')
      forceExit()
    }
    progress.line(`\nfaults: ${signal}: stopping the service replicas and Redis, making sure the broker runs (again to force) ...`)
    abort.abort()
    setTimeout(() => {
      console.error('faults: the clean stop took over 90 s: forcing')
      forceExit()
    }, 90_000)
  })
}

// --------------------------------------------------------------------- main ---

async function main(): Promise<number> {
  const started = await ensureBrokerRunning()
  if (started) console.error(`faults: started the Kafka broker (${started.split('\n').at(-1)})`)
  if (redis.ping()) {
    console.error(`faults: something already answers on Redis port ${REDIS_PORT}; choose another with --redis-port`)
    return 2
  }
  mkdirSync(redis.dir, { recursive: true })
  await redis.start()
  redisStarted = true
  await receiver.listen()
  console.error(`faults: ${selected.join(', ')} with N=${N}, stream ${(DURATION_MS / 1000).toFixed(0)} s, grace ${(GRACE_MS / 1000).toFixed(0)} s, seed ${SEED}; Redis ${redis.url} (AOF, ${redis.dir}); receiver ${receiver.url}; logs in ${workDir}`)

  const rows: Row[] = []
  for (const name of selected) {
    if (abort.signal.aborted) break
    const row = await runScenario(name)
    rows.push(row)
    console.error(`faults: ${name}: sent ${row.sent}, once ${row.deliveredOnce}, twice+ ${row.deliveredTwice}, lost ${row.lost}, dead-lettered ${row.deadLettered}, max delay ${formatMs(row.maxDelayMs)}, wall ${formatMs(row.wallMs)}`)
  }
  await cleanup()
  console.log()
  printTable(rows)
  if (abort.signal.aborted) {
    console.log('\ninterrupted')
    return 130
  }
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify({ n: N, durationMs: DURATION_MS, graceMs: GRACE_MS, seed: SEED, brokers: BROKERS, results: rows }, null, 2)}\n`)
    console.log(`\nresults written to ${args.json}`)
  }
  const failed = rows.filter((r) => r.lost > 0 || r.error !== undefined)
  console.log(failed.length === 0 ? `\nnothing lost in ${rows.length} scenario(s)` : `\nLOST or failed in: ${failed.map((r) => r.scenario).join(', ')}`)
  return failed.length === 0 && rows.length === selected.length ? 0 : 1
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    console.error(`faults: ${(error as Error).stack ?? String(error)}`)
    await cleanup()
    process.exit(1)
  },
)
