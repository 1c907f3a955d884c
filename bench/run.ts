// `npm run bench`: measures the notification service, run as a child process exactly as in
// production, against the real local Kafka broker and Redis, delivering to a receiver child
// listening on 20 loopback origins. See `npm run bench -- --help` and bench/README.md.
//
// Modes:
//   throughput  produce --n results, then start the service (or --produce during: once it is
//               ready), measure delivered/s from the first to the last delivery, latency, peak
//               RSS and CPU; then the ceilings (a) a bare consumer reading the same topic and
//               (b) a bare undici loop POSTing the same bodies to the same receiver.
//   steady      --rate results/s for --duration s into a running service: latency under load.
//   backlog     produce --n results before starting the service: drain rate and peak RSS.
//   slow        like throughput, but one origin never answers: throughput of the other
//               origins compared with a normal run (measured first, or --baseline).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import os from 'node:os'
import { join, relative } from 'node:path'
import { Redis } from 'ioredis'
import { parseSettings, USAGE, UsageError, type Settings } from './lib/args.ts'
import { MemoryCgroup, type CgroupReport } from './lib/cgroup.ts'
import { makeBenchPki, receiverTlsEnv, writeDestinationsFile } from './lib/destinations.ts'
import { httpCeiling } from './lib/http-ceiling.ts'
import { findBrokerPid } from './lib/broker-pid.ts'
import { brokerAnswers, consumeCeiling, createTopics, freshTopics, produceResults, type BenchTopics, type ConsumeCeiling, type ProduceReport } from './lib/kafka.ts'
import { countExcluding, processingIdBase, type Layout } from './lib/messages.ts'
import { ROOT, RESULTS_DIR } from './lib/paths.ts'
import { ProcSampler, type ProcessUsage } from './lib/procstat.ts'
import { summariseAllocations, type AllocationSummary } from './lib/alloc-profile.ts'
import { newestProfile, summariseProfile, type ProfileSummary } from './lib/profile.ts'
import { Progress } from './lib/progress.ts'
import { RedisCpuSampler } from './lib/redis-cpu.ts'
import { summariseWaits, waitRows, type WaitSummary } from './lib/waits.ts'
import { ReceiverClient } from './lib/receiver-client.ts'
import type { LatencySummary, ReceiverFinal } from './lib/receiver-protocol.ts'
import { addMetrics, anyExited, replicaName, scrapeAll, scrapeEventLoops, stopAll, waitAllReady, type Replica } from './lib/replicas.ts'
import { logSummary, outputTail, spawnService } from './lib/service.ts'

const READY_TIMEOUT_MS = 120_000

let settings: Settings
try {
  settings = parseSettings(process.argv.slice(2))
} catch (error) {
  process.stderr.write(`${error instanceof UsageError ? 'bench: ' : ''}${(error as Error).message}\n\n${USAGE}`)
  process.exit(2)
}

/**
 * Without a Redis given by --env, runs use database 15 of the local Redis and start with it
 * empty, so each run meets the same Redis: keys of earlier runs (three per notification)
 * had piled up to 10 million keys and 2.7 GB in the developer's database 0.
 */
const BENCH_REDIS_URL = ['REDIS_URL', 'REDIS_HOST', 'REDIS_PORT'].some((name) => name in settings.extraEnv) ? undefined : 'redis://127.0.0.1:6379/15'

const layout: Layout = { partitions: settings.partitions, origins: settings.origins }
const startedAt = new Date()
const loadAtStart = os.loadavg()
const stamp = startedAt.toISOString().replace(/[:.]/g, '-')
mkdirSync(RESULTS_DIR, { recursive: true })

await ensureInfrastructure()

const sampler = new ProcSampler(settings.sampleMs)
const progress = new Progress()
sampler.add('bench', process.pid)
const brokerPid = findBrokerPid(ROOT, Number(settings.brokers[0]?.split(':').at(-1) ?? 9092))
const redisPid = findRedisPid(redisTarget().port)
if (brokerPid) sampler.add('kafka', brokerPid)
if (redisPid) sampler.add('redis', redisPid)
const pki = settings.destination === 'none' ? undefined : makeBenchPki(settings.origins)
const receiver = await ReceiverClient.start(settings.origins, settings.receiverLatencyMs, receiverTlsEnv(settings.destination, pki, settings.tokenExpiresInS))
sampler.add('receiver', receiver.pid)
/** --destination: the service's CALLBACK_DESTINATIONS_FILE for the receiver's origins. */
const destinationsEnv: Record<string, string> =
  settings.destination === 'none' || pki === undefined ? {} : { CALLBACK_DESTINATIONS_FILE: writeDestinationsFile(settings.destination, pki, receiver.origins, `http://127.0.0.1:${receiver.port}/token`) }
/** The service processes of the phase under way (stopped on SIGINT). */
let currentReplicas: Replica[] = []
let currentCgroup: MemoryCgroup | undefined
const abortProducing = new AbortController()

async function cleanup(): Promise<void> {
  progress.stop()
  abortProducing.abort()
  await stopAll(currentReplicas, 5000).catch(() => undefined)
  currentCgroup?.remove()
  await receiver.close().catch(() => undefined)
  pki?.remove()
  sampler.stop()
}

process.once('SIGINT', () => {
  process.stderr.write('\ninterrupted: stopping the service and the receiver\n')
  void cleanup().finally(() => process.exit(130))
})

// ------------------------------------------------------------------------ phases ---

interface ServicePhase {
  label: string
  topics: BenchTopics
  n: number
  /** Deliveries that end the phase (slow: those to the answering origins). */
  expected: number
  hangOrigin: number
  outcome: 'complete' | 'stalled' | 'service exited'
  produce: ProduceReport & { when: 'before' | 'during' | 'fixed rate' }
  /**
   * The service: with --replicas N, its N processes together (CPU, allocation and counters added
   * up, RSS and peak CPU the highest replica's, the event loop their mean) and, in `replicas`,
   * each; pid, logDir, exit and the spawn time are the first replica's.
   */
  service: {
    pid: number
    spawnedAt: number
    logDir: string
    exit: ExitReport
    /** Spawn → the last replica ready. */
    startupMs: number | null
    firstDeliveryAfterSpawnMs: number | null
    windowSeconds: number
    deliveredPerSecond: number
    peakRssMb: number
    meanCpuPct: number
    peakCpuPct: number
    lifetimeMeanCpuPct: number
    /** CPU time (all threads) per delivered notification over the delivery window, ms. */
    cpuMsPerNotification: number | null
    /** Redis's CPU time (`INFO cpu`) per delivered notification over the delivery window, ms. */
    redisCpuMsPerNotification: number | null
    /** The broker's CPU time (/proc) per delivered notification over the delivery window, ms. */
    brokerCpuMsPerNotification: number | null
    /** The service's event-loop utilisation over the delivery window, from its notification_event_loop_utilization gauge scraped every second. */
    eventLoopUtilization: number | null
    /** Bytes the service's JavaScript allocated (garbage included) per delivered notification over the delivery window, KiB (bench/lib/alloc-probe.ts). */
    allocatedKibPerNotification: number | null
    metrics: Record<string, number>
    log: { lines: number; byMessage: Record<string, number> }
    replicas: ReplicaFigures[]
    /** --memory-limit: the service's memory cgroup. */
    cgroup?: CgroupReport
    /** --memory-probe: the probe's sample with the highest RSS. */
    memoryAtPeak?: Record<string, unknown>
  }
  receiver: Omit<ReceiverFinal, 'latencyMs'>
  latencyMs: LatencySummary
  /** Other processes over the same delivery window. */
  others: Record<string, ProcessUsage | undefined>
  /** rssMb and cpuPct: of all service processes together. */
  timeline: Array<{ s: number; delivered: number; rssMb: number; cpuPct: number; cgroupMb?: number }>
  profile?: ProfileSummary
  allocations?: AllocationSummary
  /** --waits: what records in flight waited on (bench/lib/wait-probe.ts). */
  waits?: WaitSummary
}

type ProduceWhen = 'before' | 'during' | 'fixed rate'

type ExitReport = { code: number | null; signal: string | null; killed: boolean }

/** One service process over the delivery window (the same window for all: first to last delivery). */
interface ReplicaFigures {
  pid: number
  logDir: string
  exit: ExitReport
  /** notifications_delivered_total at the end: its share of the work. */
  delivered: number
  peakRssMb: number
  meanCpuPct: number
  peakCpuPct: number
  lifetimeMeanCpuPct: number
  /** Its CPU time ÷ all notifications delivered (by every replica), ms: the replicas' add up to the service's. */
  cpuMsPerNotification: number | null
  eventLoopUtilization: number | null
  /** Bytes it allocated in the window (bench/lib/alloc-probe.ts). */
  allocatedBytes: number | undefined
}

async function runServicePhase(label: string, n: number, hangOrigin: number, when: ProduceWhen): Promise<ServicePhase> {
  const topics = freshTopics(label)
  await createTopics(settings.brokers, topics, settings.partitions)
  const base = processingIdBase()
  const expected = hangOrigin < 0 ? n : countExcluding(layout, n, hangOrigin)
  await receiver.reset({ base, n, hangOrigin })
  const produceOptions = {
    brokers: settings.brokers,
    topic: topics.KAFKA_TOPIC_FOR_SENDING,
    n,
    base,
    layout,
    origins: receiver.origins,
    batchSize: settings.batchSize,
    sendsInFlight: settings.sendsInFlight,
    signal: abortProducing.signal,
  }

  let produceReport: ProduceReport | undefined
  if (when === 'before') {
    progress.start(`${label}:produce`, n)
    produceReport = await produceResults({ ...produceOptions, onProgress: (produced) => progress.update(produced) })
    progress.stop()
  }

  await emptyBenchDatabase()
  const env: Record<string, string> = {
    ...topics,
    KAFKA_BOOTSTRAP_SERVERS: settings.brokers.join(','),
    CALLBACK_TIMEOUT_MS: String(settings.callbackTimeoutMs),
    CALLBACK_ALLOWED_NETWORKS: '127.0.0.0/8',
    LOG_LEVEL: 'warn',
    // One hour, not the three days of production: a million results leave ~3 million keys,
    // and runs piling them up in the developer's Redis slow every later run.
    STORAGE_TIME_PROCESSED_MESSAGES: '3600',
    ...(BENCH_REDIS_URL === undefined ? {} : { REDIS_URL: BENCH_REDIS_URL }),
    ...destinationsEnv,
    ...settings.extraEnv,
  }
  const profileDir = settings.profile ? join(RESULTS_DIR, `profile-${stamp}`) : undefined
  const probeFile = settings.memoryProbe ? join(RESULTS_DIR, `memory-probe-${label}-${stamp}.jsonl`) : undefined
  if (probeFile !== undefined) env.MEMORY_PROBE_FILE = probeFile
  const waitsFile = settings.waits ? join(RESULTS_DIR, `wait-probe-${label}-${stamp}.jsonl`) : undefined
  if (waitsFile !== undefined) env.WAIT_PROBE_FILE = waitsFile
  const allocProfileFile = settings.allocProfile ? join(RESULTS_DIR, `alloc-profile-${label}-${stamp}.heapprofile`) : undefined
  if (allocProfileFile !== undefined) env.ALLOC_PROFILE_FILE = allocProfileFile
  const nodeArgs = [
    `--import=${join(ROOT, 'bench/lib/alloc-probe.ts')}`,
    ...(probeFile === undefined ? [] : [`--import=${join(ROOT, 'bench/lib/memory-probe.ts')}`]),
    ...(waitsFile === undefined ? [] : [`--import=${join(ROOT, 'bench/lib/wait-probe.ts')}`]),
    ...settings.nodeArgs,
  ]
  const cgroup = settings.memoryLimitMb === undefined ? undefined : MemoryCgroup.create(`ns-bench-${process.pid}-${label}`, settings.memoryLimitMb)
  currentCgroup = cgroup
  const redisCpu = new RedisCpuSampler(env.REDIS_URL ?? `redis://${redisTarget().host}:${redisTarget().port}`)
  await redisCpu.start(settings.sampleMs)
  const replicas = await spawnReplicas(label, env, profileDir === undefined ? undefined : `--cpu-prof --cpu-prof-dir=${profileDir}`, nodeArgs, cgroup?.procsFile)
  currentReplicas = replicas
  /** The first (with --profile, --memory-limit and the probes, the only) service process. */
  const service = replicas[0]!.process
  let readyAt: number | undefined
  let readyError: Error | undefined
  const ready = waitAllReady(replicas, READY_TIMEOUT_MS).then(
    (at) => void (readyAt = at),
    (error: Error) => void (readyError = error),
  )

  let produced = when === 'before' ? n : 0
  let producing: Promise<ProduceReport> | undefined
  if (when !== 'before') {
    progress.start(`${label}:start`, 1, 'waiting for /readyz')
    await ready
    progress.stop()
    if (readyError) throw readyError
    producing = produceResults({ ...produceOptions, ...(when === 'fixed rate' ? { rate: settings.rate } : {}), onProgress: (count) => (produced = count) })
    // A failure is reported when the phase awaits it.
    producing.catch(() => undefined)
  }

  const timeline: ServicePhase['timeline'] = []
  progress.start(label, expected)
  let outcome: ServicePhase['outcome'] = 'complete'
  let lastCount = -1
  let lastChange = Date.now()
  let nextEluScrape = Date.now() + 1000
  for (;;) {
    await sleep(settings.sampleMs)
    if (Date.now() >= nextEluScrape) {
      nextEluScrape += 1000
      scrapeEventLoops(replicas)
    }
    const counts = await receiver.counts()
    // With --replicas, of all service processes together.
    const rssMb = replicas.reduce((total, replica) => total + (sampler.latest(replica.name)?.rssKb ?? 0), 0) / 1024
    const cpuPct = replicas.reduce((total, replica) => total + sampler.recentCpuPct(replica.name), 0)
    const cgroupMb = cgroup?.sample()
    timeline.push({ s: round((Date.now() - service.spawnedAt) / 1000, 1), delivered: counts.delivered, rssMb: round(rssMb, 1), cpuPct: round(cpuPct, 0), ...(cgroupMb === undefined ? {} : { cgroupMb: round(cgroupMb, 1) }) })
    const extra = [cgroupMb === undefined ? '' : `cgroup ${Math.round(cgroupMb)}/${settings.memoryLimitMb} MiB`, when === 'before' ? '' : `produced ${produced}`, hangOrigin >= 0 ? `hung ${counts.hung}` : '', counts.duplicates ? `dup ${counts.duplicates}` : '']
    progress.update(counts.delivered, [`rss ${Math.round(rssMb)} MB`, `cpu ${Math.round(cpuPct)}%`, ...extra].filter(Boolean).join(' | '))
    if (counts.delivered >= expected) break
    if (anyExited(replicas)) {
      outcome = 'service exited'
      break
    }
    if (counts.delivered !== lastCount) {
      lastCount = counts.delivered
      lastChange = Date.now()
    } else if (Date.now() - lastChange > settings.stallS * 1000) {
      outcome = 'stalled'
      break
    }
  }
  progress.stop()

  const finishedProducing = producing ? await producing : undefined
  produceReport ??= finishedProducing
  const metricsPerReplica = await scrapeAll(replicas)
  const final = await receiver.final()
  for (const replica of replicas) sampler.finish(replica.name)
  await redisCpu.stop()
  const exits = await stopAll(replicas)
  const exitedAt = Date.now()
  currentReplicas = []
  const cgroupReport = cgroup?.report()
  cgroup?.remove()
  currentCgroup = undefined
  if (outcome !== 'complete') {
    process.stderr.write(`${label}: ${outcome} after ${final.delivered} of ${expected} deliveries\n`)
    for (const replica of replicas) process.stderr.write(`last output of ${replica.name} (pid ${replica.process.pid}):\n${outputTail(replica.process)}\n`)
  }

  const windowSeconds = final.last > final.first ? (final.last - final.first) / 1000 : 0
  const figures = replicas.map((replica, index) => replicaFigures(replica, final, metricsPerReplica[index]!, exits[index]!))
  const others: Record<string, ProcessUsage | undefined> = {}
  for (const name of ['receiver', 'kafka', 'redis', 'bench']) others[name] = sampler.usage(name, final.first, final.last)
  const { latencyMs, ...receiverCounts } = final
  let profile: ProfileSummary | undefined
  if (profileDir) {
    const file = newestProfile(profileDir, service.spawnedAt)
    // The delivery window only, as the CPU per notification: start-up (module loading, schema compilation) left out.
    if (file) profile = summariseProfile(file, 15, final.last > final.first ? { fromMs: final.first, toMs: final.last, endMs: exitedAt } : undefined)
  }
  const allocations = allocProfileFile !== undefined && existsSync(allocProfileFile) ? summariseAllocations(allocProfileFile) : undefined
  const allocated = sum(...figures.map((replica) => replica.allocatedBytes ?? null))
  const redisCpuSeconds = redisCpu.usedBetween(final.first, final.last)
  const brokerCpuSeconds = others.kafka === undefined ? undefined : (others.kafka.meanCpuPct / 100) * windowSeconds
  const perNotificationMs = (seconds: number | undefined) => (seconds === undefined || final.delivered === 0 ? null : (seconds * 1000) / final.delivered)
  const waits = waitsFile === undefined ? undefined : summariseWaits(waitsFile, final.first, final.last)
  return {
    label,
    topics,
    n,
    expected,
    hangOrigin,
    outcome,
    produce: { ...(produceReport ?? { produced: 0, seconds: 0, perSecond: 0 }), when },
    service: {
      pid: service.pid,
      spawnedAt: service.spawnedAt,
      logDir: service.logDir,
      exit: figures[0]!.exit,
      startupMs: readyAt === undefined ? null : readyAt - service.spawnedAt,
      firstDeliveryAfterSpawnMs: final.first ? final.first - service.spawnedAt : null,
      windowSeconds,
      deliveredPerSecond: windowSeconds > 0 ? final.delivered / windowSeconds : 0,
      peakRssMb: Math.max(...figures.map((replica) => replica.peakRssMb)),
      meanCpuPct: figures.reduce((total, replica) => total + replica.meanCpuPct, 0),
      peakCpuPct: Math.max(...figures.map((replica) => replica.peakCpuPct)),
      lifetimeMeanCpuPct: figures.reduce((total, replica) => total + replica.lifetimeMeanCpuPct, 0),
      cpuMsPerNotification: sum(...figures.map((replica) => replica.cpuMsPerNotification)),
      redisCpuMsPerNotification: perNotificationMs(redisCpuSeconds),
      brokerCpuMsPerNotification: perNotificationMs(brokerCpuSeconds),
      eventLoopUtilization: meanOrNull(figures.map((replica) => replica.eventLoopUtilization)),
      allocatedKibPerNotification: allocated === null || final.delivered === 0 ? null : allocated / 1024 / final.delivered,
      metrics: addMetrics(metricsPerReplica),
      log: mergeLogs(replicas.map((replica) => logSummary(replica.process))),
      replicas: figures,
      ...(cgroupReport === undefined ? {} : { cgroup: cgroupReport }),
      ...(probeFile === undefined ? {} : { memoryAtPeak: probePeak(probeFile) }),
    },
    receiver: receiverCounts,
    latencyMs,
    others,
    timeline,
    ...(profile ? { profile } : {}),
    ...(allocations ? { allocations } : {}),
    ...(waits ? { waits } : {}),
  }
}

/** Starts --replicas service processes with the same configuration (one consumer group), each with its own allocation probe file. */
async function spawnReplicas(label: string, env: Record<string, string>, nodeOptions: string | undefined, nodeArgs: readonly string[], cgroupProcs: string | undefined): Promise<Replica[]> {
  const replicas: Replica[] = []
  // One after the other (each picks a free HTTP port), a few ms apart: they join the group together.
  for (let index = 1; index <= settings.replicas; index++) {
    const allocFile = join(RESULTS_DIR, `alloc-probe-${label}${index === 1 ? '' : `-${index}`}-${stamp}.jsonl`)
    const child = await spawnService({ ...env, ALLOC_PROBE_FILE: allocFile }, nodeOptions, nodeArgs, !settings.v8Defaults, cgroupProcs)
    const name = replicaName(index)
    sampler.add(name, child.pid)
    replicas.push({ index, name, process: child, allocFile, eluScrapes: [] })
  }
  return replicas
}

/** One replica over the delivery window [final.first, final.last]. */
function replicaFigures(replica: Replica, final: ReceiverFinal, metrics: Record<string, number>, exit: ExitReport): ReplicaFigures {
  const usage = sampler.usage(replica.name, final.first, final.last)
  const windowSeconds = final.last > final.first ? (final.last - final.first) / 1000 : 0
  return {
    pid: replica.process.pid,
    logDir: replica.process.logDir,
    exit: { code: exit.code, signal: exit.signal, killed: exit.killed },
    delivered: metrics.notifications_delivered_total ?? 0,
    peakRssMb: sampler.peakRssMb(replica.name),
    meanCpuPct: usage?.meanCpuPct ?? 0,
    peakCpuPct: usage?.peakCpuPct ?? 0,
    lifetimeMeanCpuPct: sampler.usage(replica.name)?.meanCpuPct ?? 0,
    cpuMsPerNotification: usage && final.delivered > 0 ? ((usage.meanCpuPct / 100) * windowSeconds * 1000) / final.delivered : null,
    eventLoopUtilization: windowMean(replica.eluScrapes, final.first, final.last),
    allocatedBytes: allocatedBetween(replica.allocFile, final.first, final.last),
  }
}

function meanOrNull(values: ReadonlyArray<number | null>): number | null {
  const known = values.filter((value): value is number => value !== null)
  return known.length === 0 ? null : known.reduce((total, value) => total + value, 0) / known.length
}

function mergeLogs(logs: ReadonlyArray<ServicePhase['service']['log']>): ServicePhase['service']['log'] {
  const byMessage: Record<string, number> = {}
  for (const log of logs) for (const [message, count] of Object.entries(log.byMessage)) byMessage[message] = (byMessage[message] ?? 0) + count
  return { lines: logs.reduce((total, log) => total + log.lines, 0), byMessage }
}

/** Mean of values each covering the second before its t, over those seconds wholly inside [from, to]. */
function windowMean(scrapes: ReadonlyArray<{ t: number; elu: number }>, from: number, to: number): number | null {
  const inside = scrapes.filter((scrape, index) => index > 0 && scrapes[index - 1]!.t >= from && scrape.t <= to)
  return inside.length === 0 ? null : inside.reduce((sum, scrape) => sum + scrape.elu, 0) / inside.length
}

interface HttpCeilingResult {
  sent: number
  failed: number
  /** Receiver-side, first to last request (comparable to the service's window). */
  perSecond: number
  clientSeconds: number
  benchCpuPct: number | undefined
  receiverCpuPct: number | undefined
}

async function runHttpCeiling(n: number): Promise<HttpCeilingResult> {
  const base = processingIdBase()
  await receiver.reset({ base, n, hangOrigin: -1 })
  progress.start('ceiling:http', n)
  const report = await httpCeiling({
    origins: receiver.origins,
    n,
    base,
    layout,
    concurrency: settings.ceilingConcurrency,
    connectionsPerOrigin: settings.ceilingConnections,
    onProgress: (done) => progress.update(done),
  })
  progress.stop()
  const final = await receiver.final()
  const window = (final.last - final.first) / 1000
  return {
    sent: report.sent,
    failed: report.failed,
    perSecond: window > 0 ? final.delivered / window : 0,
    clientSeconds: report.seconds,
    benchCpuPct: sampler.usage('bench', final.first, final.last)?.meanCpuPct,
    receiverCpuPct: sampler.usage('receiver', final.first, final.last)?.meanCpuPct,
  }
}

async function runConsumeCeiling(topic: string, n: number): Promise<ConsumeCeiling> {
  progress.start('ceiling:kafka', n)
  const report = await consumeCeiling({ brokers: settings.brokers, topic, n, stallMs: settings.stallS * 1000, onProgress: (consumed) => progress.update(consumed) })
  progress.stop()
  return report
}

/** Delivered/s of one phase counting only the origins other than `exclude`. */
function ratePerSecondExcluding(phase: ServicePhase, exclude: number): number {
  const origins = phase.receiver.perOrigin.filter((_, index) => index !== exclude && _.delivered > 0)
  const delivered = origins.reduce((sum, origin) => sum + origin.delivered, 0)
  const first = Math.min(...origins.map((origin) => origin.first))
  const last = Math.max(...origins.map((origin) => origin.last))
  return last > first ? delivered / ((last - first) / 1000) : 0
}

// -------------------------------------------------------------------------- main ---

const results: Record<string, unknown> = {}
const tables: Array<{ title: string; rows: Array<[string, string]> }> = []
let exitCode = 0

try {
  switch (settings.mode) {
    case 'throughput': {
      const phase = await runServicePhase('throughput', settings.n, -1, settings.produce)
      results.service = phase
      const rows = phaseRows(phase)
      if (settings.ceilings) {
        const consume = await runConsumeCeiling(phase.topics.KAFKA_TOPIC_FOR_SENDING, settings.n)
        const http = await runHttpCeiling(settings.n)
        const ceiling = Math.min(consume.perSecond, http.perSecond)
        const share = ceiling > 0 ? (phase.service.deliveredPerSecond / ceiling) * 100 : 0
        results.ceilings = { consume, http, min: ceiling, serviceShareOfMinPct: share }
        rows.push(
          ['ceiling (a) bare consumer, msg/s', `${int(consume.perSecond)}${consume.complete ? '' : ` (incomplete: ${consume.consumed})`}`],
          ['ceiling (b) bare undici POST, req/s', `${int(http.perSecond)}${http.failed ? ` (${http.failed} failed)` : ''}  [bench ${pct(http.benchCpuPct)}, receiver ${pct(http.receiverCpuPct)} CPU]`],
          // The CPU one POST costs the client alone: a floor for the service's CPU per notification.
          ['ceiling (b) client CPU per POST', http.benchCpuPct === undefined || http.perSecond === 0 ? 'n/a' : `${(http.benchCpuPct / 100 / http.perSecond * 1000).toFixed(3)} ms`],
          ['service ÷ min(a, b)', `${share.toFixed(1)} %`],
        )
      }
      tables.push({ title: `throughput: ${settings.n} results, produced ${settings.produce === 'before' ? 'before the service starts' : 'once the service is ready'}`, rows })
      break
    }
    case 'steady': {
      const phase = await runServicePhase('steady', settings.n, -1, 'fixed rate')
      results.service = phase
      const rows = phaseRows(phase)
      rows.splice(1, 0, ['target rate / duration', `${int(settings.rate)}/s for ${settings.durationS} s`], ['max producer lag behind schedule', `${phase.produce.maxLagMs ?? 0} ms`])
      tables.push({ title: `steady: ${int(settings.rate)}/s for ${settings.durationS} s`, rows })
      break
    }
    case 'backlog': {
      const phase = await runServicePhase('backlog', settings.n, -1, 'before')
      results.service = phase
      const drainMs = phase.receiver.last ? phase.receiver.last - phase.service.spawnedAt : null
      results.spawnToDrainedMs = drainMs
      const rows = phaseRows(phase)
      rows.splice(4, 0, ['spawn → backlog drained', sec(drainMs)])
      tables.push({ title: `backlog: ${settings.n} results produced before the service started`, rows })
      break
    }
    case 'slow': {
      let baselineRate = settings.baselineRate
      let baseline: ServicePhase | undefined
      if (baselineRate === undefined) {
        baseline = await runServicePhase('slow-baseline', settings.n, -1, settings.produce)
        baselineRate = ratePerSecondExcluding(baseline, settings.hangOrigin)
        results.baseline = baseline
        tables.push({ title: `slow, baseline: normal run, ${settings.n} results`, rows: phaseRows(baseline) })
      }
      const phase = await runServicePhase('slow', settings.n, settings.hangOrigin, settings.produce)
      results.service = phase
      const slowRate = phase.service.deliveredPerSecond
      const ratio = baselineRate > 0 ? (slowRate / baselineRate) * 100 : 0
      results.comparison = { baselineRateOthers: baselineRate, slowRateOthers: slowRate, ratioPct: ratio, goalPct: 80, met: ratio >= 80 }
      const rows = phaseRows(phase)
      rows.push(
        ['hanging origin', `${receiver.origins[settings.hangOrigin] ?? '?'}: ${phase.receiver.hung} requests, never answered`],
        [`other ${settings.origins - 1} origins, delivered/s: slow vs normal`, `${int(slowRate)} vs ${int(baselineRate)}${baseline ? '' : ' (--baseline)'}`],
        ['slow ÷ normal (goal ≥ 80 %)', `${ratio.toFixed(1)} % ${ratio >= 80 ? 'met' : 'NOT met'}`],
      )
      tables.push({ title: `slow: ${settings.n} results, 1 of ${settings.origins} origins hangs (CALLBACK_TIMEOUT_MS=${settings.callbackTimeoutMs})`, rows })
      break
    }
  }
} catch (error) {
  progress.stop()
  process.stderr.write(`benchmark failed: ${(error as Error).stack ?? String(error)}\n`)
  results.error = String(error)
  exitCode = 1
} finally {
  await cleanup()
}

const machine = {
  cores: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? '',
  memoryMb: Math.round(os.totalmem() / 2 ** 20),
  node: process.version,
  platform: `${os.platform()} ${os.release()}`,
  loadAverageAtStart: loadAtStart,
  kafkaJvmOptions: brokerPid ? jvmOptions(brokerPid) : undefined,
}
const file = join(RESULTS_DIR, `${settings.mode}-${stamp}.json`)
writeFileSync(file, `${JSON.stringify({ mode: settings.mode, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), machine, settings, results }, null, 2)}\n`)

for (const table of tables) printTable(table.title, table.rows)
const profiled = [results.baseline, results.service].filter((phase): phase is ServicePhase => typeof phase === 'object' && phase !== null && 'profile' in phase)
for (const phase of profiled) printProfile(phase)
for (const phase of [results.baseline, results.service]) if (typeof phase === 'object' && phase !== null && 'allocations' in phase) printAllocations(phase as ServicePhase)
if (machine.kafkaJvmOptions?.includes('-XX:TieredStopAtLevel=1')) {
  process.stdout.write('note: the broker runs C1-only (-XX:TieredStopAtLevel=1, the test default of scripts/kafka.sh); for final numbers restart it with KAFKA_JVM_OPTS without it\n')
}
process.stdout.write(`machine: ${machine.cores} cores, ${machine.cpuModel}, node ${machine.node}, load at start ${machine.loadAverageAtStart.map((x) => x.toFixed(2)).join(' ')}\n`)
process.stdout.write(`results: ${relative(process.cwd(), file)}\n`)
process.exit(exitCode)

// ----------------------------------------------------------------------- helpers ---

function phaseRows(phase: ServicePhase): Array<[string, string]> {
  const s = phase.service
  const r = phase.receiver
  const l = phase.latencyMs
  const o = phase.others
  const rows: Array<[string, string]> = [
    ...replicaRows(phase.service.replicas),
    ['outcome', `${phase.outcome}: ${r.delivered} of ${phase.expected} delivered${r.duplicates ? `, ${r.duplicates} duplicates` : ''}${r.unknown ? `, ${r.unknown} unknown` : ''}`],
    [`produced (${phase.produce.when})`, `${phase.produce.produced} in ${phase.produce.seconds.toFixed(1)} s (${int(phase.produce.perSecond)}/s)`],
    ['service spawn → ready / → first delivery', `${sec(s.startupMs)} / ${sec(s.firstDeliveryAfterSpawnMs)}`],
    ['delivered/s (first → last delivery)', `${int(s.deliveredPerSecond)} over ${s.windowSeconds.toFixed(1)} s`],
    ['origins / receiver answers after', `${settings.origins} / ${settings.receiverLatencyMs} ms`],
    ...destinationRows(r),
    ['attempts / deferred to a retry tier without one', `${int(s.metrics.notification_attempts_total ?? 0)} / ${int(s.metrics.notifications_deferred_total ?? 0)}`],
    [`latency p50 / p99 / max${phase.produce.when === 'before' ? ' (incl. wait in Kafka)' : ''}`, `${int(l.p50)} / ${int(l.p99)} / ${int(l.max)} ms`],
    perReplica(s.replicas, 'service peak RSS', (r) => `${r.peakRssMb.toFixed(0)} MB`),
    ...cgroupRows(s.cgroup, s.exit),
    ...probeRows(s.memoryAtPeak),
    perReplica(s.replicas, 'service CPU, mean / peak (of one core)', (r) => `${r.meanCpuPct.toFixed(0)} % / ${r.peakCpuPct.toFixed(0)} %`),
    ['service CPU per notification', s.cpuMsPerNotification === null ? 'n/a' : `${s.cpuMsPerNotification.toFixed(3)} ms${s.replicas.length > 1 ? ` (${s.replicas.map((r) => ms(r.cpuMsPerNotification)).join(' + ')})` : ''}`],
    ['allocated per notification (JS heap, garbage included)', s.allocatedKibPerNotification === null ? 'n/a' : `${s.allocatedKibPerNotification.toFixed(1)} KiB`],
    ['CPU per notification: service / Redis (INFO cpu) / broker', [s.cpuMsPerNotification, s.redisCpuMsPerNotification, s.brokerCpuMsPerNotification].map(ms).join(' / ')],
    ['CPU per notification: service + Redis / + broker (total)', `${ms(sum(s.cpuMsPerNotification, s.redisCpuMsPerNotification))} / ${ms(sum(s.cpuMsPerNotification, s.redisCpuMsPerNotification, s.brokerCpuMsPerNotification))}`],
    perReplica(s.replicas, 'service event loop busy (notification_event_loop_utilization, window)', (r) => (r.eventLoopUtilization === null ? 'n/a' : `${(r.eventLoopUtilization * 100).toFixed(1)} %`)),
    ['same window: receiver / kafka / redis / bench CPU', [o.receiver, o.kafka, o.redis, o.bench].map((usage) => pct(usage?.meanCpuPct)).join(' / ')],
  ]
  if (phase.waits) rows.push(['waiting on (--waits, bench/lib/wait-probe.ts)', `${phase.waits.samples} samples of 100 ms`], ...waitRows(phase.waits))
  const logged = Object.entries(s.log.byMessage).sort((a, b) => b[1] - a[1]).slice(0, 3)
  if (s.log.lines > 0) rows.push(['service log lines (warn+)', `${s.log.lines}: ${logged.map(([message, count]) => `${count}× ${message}`).join('; ')}`])
  return rows
}

/** With --replicas N > 1: how the work was shared (notifications_delivered_total of each). */
function replicaRows(replicas: readonly ReplicaFigures[]): Array<[string, string]> {
  if (replicas.length < 2) return []
  return [['replicas (one consumer group): delivered by each', replicas.map((r) => int(r.delivered)).join(' · ')]]
}

/** A row of one process's figure: with --replicas N > 1, each replica's in order ("a · b"), the label saying so. */
function perReplica(replicas: readonly ReplicaFigures[], label: string, format: (replica: ReplicaFigures) => string): [string, string] {
  return [replicas.length < 2 ? label : `${label}, per replica`, replicas.map(format).join(' · ')]
}

function destinationRows(r: ServicePhase['receiver']): Array<[string, string]> {
  switch (settings.destination) {
    case 'none':
      return []
    case 'plain-tls':
      return [['destination', 'plain-tls: HTTPS, the CA trusted through CALLBACK_DESTINATIONS_FILE']]
    case 'oauth2-mtls':
      return [
        ['destination', `oauth2-mtls: HTTPS + client certificate + OAuth2 bearer (expires_in ${settings.tokenExpiresInS} s)`],
        ['tokens issued / requests refused 401', `${r.tokensIssued} / ${r.unauthorized}`],
      ]
  }
}

function cgroupRows(cgroup: CgroupReport | undefined, exit: { code: number | null; signal: string | null; killed: boolean }): Array<[string, string]> {
  if (!cgroup) return []
  const stat = Object.entries(cgroup.statAtPeakMb).map(([key, value]) => `${key} ${value}`).join(', ')
  const killed = (cgroup.oomKills ?? 0) > 0 || (exit.signal === 'SIGKILL' && !exit.killed)
  return [
    [`memory cgroup (v${cgroup.version}) limit / peak usage`, `${cgroup.limitMb} MiB / ${cgroup.peakUsageMb ?? '?'} MiB`],
    ['cgroup failcnt / OOM kills', `${cgroup.failcnt ?? '?'} / ${cgroup.oomKills ?? '?'}${killed ? ' — OOM-KILLED' : ''}`],
    ['cgroup memory.stat at peak, MiB', stat],
    ['service exit', exit.signal ? `signal ${exit.signal}${exit.killed ? ' (bench, after grace)' : ''}` : `code ${exit.code}`],
  ]
}

function probeRows(peak: Record<string, unknown> | undefined): Array<[string, string]> {
  if (!peak) return []
  const spaces = peak.spaces as Record<string, number> | undefined
  const smaps = peak.smaps as Record<string, number> | undefined
  return [
    ['at peak RSS: rss / heapTotal / heapUsed / external / heap limit (MiB)', [peak.rss, peak.heapTotal, peak.heapUsed, peak.external, peak.heapLimit].join(' / ')],
    ['at peak RSS: heap spaces committed (MiB)', Object.entries(spaces ?? {}).filter(([, value]) => value >= 0.5).map(([key, value]) => `${key} ${value}`).join(', ')],
    ['at peak RSS: smaps_rollup (MiB)', Object.entries(smaps ?? {}).map(([key, value]) => `${key} ${value}`).join(', ')],
  ]
}

/** The memory probe's line with the highest RSS. */
function probePeak(file: string): Record<string, unknown> | undefined {
  let best: Record<string, unknown> | undefined
  try {
    for (const line of readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue
      const sample = JSON.parse(line) as Record<string, unknown>
      if (!best || Number(sample.rss) > Number(best.rss)) best = sample
    }
  } catch {
    return undefined
  }
  return best
}

function printTable(title: string, rows: Array<[string, string]>): void {
  const width = Math.max(...rows.map(([label]) => label.length))
  const valueWidth = Math.max(...rows.map(([, value]) => value.length))
  const line = `+${'-'.repeat(width + 2)}+${'-'.repeat(valueWidth + 2)}+`
  process.stdout.write(`\n${title}\n${line}\n`)
  for (const [label, value] of rows) process.stdout.write(`| ${label.padEnd(width)} | ${value.padEnd(valueWidth)} |\n`)
  process.stdout.write(`${line}\n`)
}

function printProfile(phase: ServicePhase): void {
  const profile = phase.profile
  if (!profile) return
  process.stdout.write(`\n${phase.label}: service CPU profile ${relative(process.cwd(), profile.file)} (${(profile.totalMs / 1000).toFixed(1)} s sampled in the delivery window), top self time:\n`)
  for (const entry of profile.topFunctions) process.stdout.write(`  ${entry.pct.toFixed(1).padStart(5)} %  ${entry.fn}  ${entry.where}\n`)
  process.stdout.write('  by package: ')
  process.stdout.write(`${profile.byPackage.map((entry) => `${entry.pkg} ${entry.pct.toFixed(1)} %`).join(', ')}\n`)
}

function printAllocations(phase: ServicePhase): void {
  const allocations = phase.allocations
  if (!allocations) return
  process.stdout.write(`\n${phase.label}: service allocation profile ${relative(process.cwd(), allocations.file)} (${allocations.totalMb} MiB sampled over its life), top allocating functions:\n`)
  for (const entry of allocations.topFunctions) process.stdout.write(`  ${entry.pct.toFixed(1).padStart(5)} %  ${entry.fn}  ${entry.where}\n`)
  process.stdout.write('  by package: ')
  process.stdout.write(`${allocations.byPackage.map((entry) => `${entry.pkg} ${entry.pct.toFixed(1)} %`).join(', ')}\n`)
}

/** Bytes allocated between two times (ms epoch), from alloc-probe.ts's running totals, interpolated. */
function allocatedBetween(file: string, from: number, to: number): number | undefined {
  let samples: Array<{ t: number; allocated: number }>
  try {
    samples = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { t: number; allocated: number })
  } catch {
    return undefined
  }
  const at = (t: number): number | undefined => {
    const after = samples.findIndex((sample) => sample.t >= t)
    if (after <= 0) return after === 0 ? samples[0]!.allocated : undefined
    const a = samples[after - 1]!
    const b = samples[after]!
    return a.allocated + ((b.allocated - a.allocated) * (t - a.t)) / Math.max(1, b.t - a.t)
  }
  const start = at(from)
  const end = at(to)
  return start === undefined || end === undefined || to <= from ? undefined : end - start
}

function ms(value: number | null): string {
  return value === null ? 'n/a' : `${value.toFixed(3)} ms`
}

function sum(...values: Array<number | null>): number | null {
  return values.some((value) => value === null) ? null : values.reduce<number>((total, value) => total + value!, 0)
}

function int(value: number): string {
  return Math.round(value).toLocaleString('en-US')
}

function pct(value: number | undefined): string {
  return value === undefined ? 'n/a' : `${value.toFixed(0)} %`
}

function sec(ms: number | null): string {
  return ms === null ? 'n/a' : `${(ms / 1000).toFixed(1)} s`
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function ensureInfrastructure(): Promise<void> {
  if (!(await brokerAnswers(settings.brokers))) {
    const local = settings.brokers.length === 1 && settings.brokers[0] === '127.0.0.1:9092'
    if (!local) throw new Error(`no Kafka broker answers on ${settings.brokers.join(',')}`)
    process.stderr.write('no broker on 127.0.0.1:9092: bash scripts/kafka.sh start\n')
    const started = spawnSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'start'], { cwd: ROOT, stdio: ['ignore', 2, 2] })
    if (started.status !== 0 || !(await brokerAnswers(settings.brokers))) throw new Error('could not start the local Kafka broker')
  }
  const { host, port } = redisTarget()
  if (!(await redisAnswers(host, port))) throw new Error(`Redis does not answer on ${host}:${port} (bash scripts/redis.sh starts a local one)`)
}

async function emptyBenchDatabase(): Promise<void> {
  if (BENCH_REDIS_URL === undefined) return
  const redis = new Redis(BENCH_REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    await redis.flushdb()
  } finally {
    redis.disconnect()
  }
}

function redisTarget(): { host: string; port: number } {
  const redisUrl = settings.extraEnv.REDIS_URL ?? BENCH_REDIS_URL
  if (redisUrl) return { host: new URL(redisUrl).hostname, port: Number(new URL(redisUrl).port || 6379) }
  return { host: settings.extraEnv.REDIS_HOST ?? '127.0.0.1', port: Number(settings.extraEnv.REDIS_PORT ?? 6379) }
}

function redisAnswers(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(3000, () => done(false))
    socket.once('error', () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data: Buffer) => done(data.toString().startsWith('+PONG')))
  })
}

/** The redis-server serving `port` (others may run on this machine, e.g. for fault tests). */
function findRedisPid(port: number): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() !== 'redis-server') continue
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ')
      if (cmdline.includes(`:${port}`) || (port === 6379 && !/:\d+/.test(cmdline))) return Number(entry)
    } catch {
      // gone
    }
  }
  return undefined
}

function jvmOptions(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8')
      .split('\0')
      .filter((arg) => arg.startsWith('-X'))
  } catch {
    return []
  }
}
