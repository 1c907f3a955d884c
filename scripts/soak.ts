// Soak under chaos (issue 21): the three-broker SASL_SSL Kafka cluster, a Redis Cluster (or
// a Sentinel set), three replicas of the service in one consumer group, ~300 results/s with
// bursts to ~200 local origins of mixed behaviour, and a nemesis every 20–40 s. At the end,
// the invariants (docs/soak.md), a table per fault kind, exit code 1 if one failed.
//
//   npm run soak -- --minutes N [--seed S] [--redis cluster|sentinel] [--json out.json] [--md out.md]
//   other options: --rate R (300/s), --origins N (200), --replicas N (3), --settle S (240 s
//   to wait for the last ids after the load stops), --faults k1,k2 (the fault kinds drawn from,
//   all by default), --keep-running (leave Kafka and Redis up),
//   --cleanup (only stop what a soak left running: for CI's exit trap)
//
// Everything is started from the project's scripts (kafka-cluster.sh in .soak/kafka-cluster,
// redis-cluster.sh / redis-sentinel.sh) on ports of its own, and stopped at the end.
import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deleteTopicsWithPrefix, shortError, useKafkaConnection } from './faults/kafka.ts'
import { killAllChildrenNow, sleep } from './faults/procs.ts'
import { Fleet } from './soak/fleet.ts'
import { anomalies } from './soak/anomalies.ts'
import { checkAll, type Evidence } from './soak/invariants.ts'
import { Ledger, readRedis } from './soak/ledger.ts'
import { Load } from './soak/load.ts'
import { Nemesis, type Fault } from './soak/nemesis.ts'
import { logProblems, Observer } from './soak/observe.ts'
import { soakOptions } from './soak/options.ts'
import { Origins } from './soak/origins.ts'
import { SeededRandom } from './soak/random.ts'
import { json, markdown, type Summary } from './soak/report.ts'
import { Topology } from './soak/topology.ts'
import { traceRetries } from './soak/retry-tiers.ts'

const options = soakOptions(process.argv.slice(2), new URL(import.meta.url))
const CALLBACK_TIMEOUT_MS = 5000
const CLAIM_MS = CALLBACK_TIMEOUT_MS + 15_000 // as src/app.ts derives it
const LAG_LIMIT = 1000
/** The service's RETRY_SCHEDULE here: short, so that a notification reaches its end within the run. */
const RETRY_SCHEDULE_MS = [1000, 2000, 4000]
const RECOVERY_LIMIT_MS = 60_000

const random = new SeededRandom(options.seed)
const workDir = mkdtempSync(join(tmpdir(), 'soak-'))
const topology = new Topology(options.redis)
const origins = new Origins(random)
const abort = new AbortController()
const log = (text: string) => console.error(`soak +${((Date.now() - t0) / 1000).toFixed(0)}s: ${text}`)
const t0 = Date.now()

function serviceEnv(prefix: string): Record<string, string> {
  return {
    ...topology.env,
    MODE: 'TEST',
    KAFKA_GROUP_ID: `${prefix}.group`,
    KAFKA_TOPIC_FOR_SENDING: `${prefix}.sending`,
    KAFKA_TOPIC_FOR_AI_HANDLER: `${prefix}.ai-handler`,
    KAFKA_TOPIC_DLQ: `${prefix}.dlq`,
    KAFKA_TOPIC_FOR_NOTIFICATIONS: `${prefix}.notifications`,
    KAFKA_TOPIC_PARTITIONS: '6',
    CALLBACK_ALLOWED_NETWORKS: '127.0.0.0/8',
    CALLBACK_TIMEOUT_MS: String(CALLBACK_TIMEOUT_MS),
    RETRY_SCHEDULE: RETRY_SCHEDULE_MS.map((ms) => `${ms / 1000}s`).join(','),
    WEBHOOK_SECRET: `whsec_${Buffer.from(randomUUID()).toString('base64')}`,
    LOG_LEVEL: 'warn',
    LOG_DIR: join(workDir, 'service-logs'),
  }
}

/** The nemesis until the load's time is up; each fault's recovery watched in the background. */
async function chaos(nemesis: Nemesis, observer: Observer, loadEnd: number): Promise<Array<Promise<void>>> {
  const watches: Array<Promise<void>> = []
  for (;;) {
    const gap = random.between(20_000, 40_000)
    if (Date.now() + gap >= loadEnd || abort.signal.aborted) return watches
    await sleep(gap)
    const fault: Fault = await nemesis.run(nemesis.nextKind())
    watches.push(observer.watchRecovery(fault, LAG_LIMIT, 3 * RECOVERY_LIMIT_MS, sleep))
  }
}

async function settle(load: Load, ledger: Ledger, deadline: number): Promise<number> {
  const open = () => [...load.sent].filter(([id, s]) => s.acked && origins.okCount(id) === 0 && !ledger.letters.has(id)).length
  while (Date.now() < deadline && !abort.signal.aborted) {
    const left = open()
    if (left === 0) return 0
    log(`settling: ${left} ids open`)
    await sleep(5000)
  }
  return open()
}

async function soak(): Promise<number> {
  log(`seed ${options.seed}; starting Kafka (3 brokers, SASL_SSL) and Redis ${options.redis} ... (logs in ${workDir})`)
  await topology.start()
  useKafkaConnection(topology.connection)
  await origins.start(options.origins)
  const prefix = `soak-${randomUUID().slice(0, 8)}`
  const env = serviceEnv(prefix)
  const fleet = new Fleet(options.replicas, env, workDir)
  const observer = new Observer(env.KAFKA_GROUP_ID ?? '', fleet)
  const ledger = new Ledger({ dlq: env.KAFKA_TOPIC_DLQ ?? '', outcomes: env.KAFKA_TOPIC_FOR_NOTIFICATIONS ?? '', sending: env.KAFKA_TOPIC_FOR_SENDING ?? '' })
  const nemesis = new Nemesis({ fleet, topology, random, sleep, log }, options.faults)
  try {
    await fleet.startAll()
    log(`${fleet.live.length} replicas ready; load ~${options.rate}/s to ${origins.list.length} origins for ${options.minutes} min`)
    ledger.start()
    observer.start()
    const loadStop = new AbortController()
    const load = new Load({ topic: env.KAFKA_TOPIC_FOR_SENDING ?? '', partitions: Number(env.KAFKA_TOPIC_PARTITIONS), rate: options.rate, origins: origins.list.map((o) => o.url), random, signal: loadStop.signal, onEvent: log })
    const loadStart = Date.now()
    const producing = load.run()
    const status = setInterval(() => log(`sent ${load.sent.size}, lag ${observer.describeLag(Date.now())}, replicas ${fleet.live.length}, faults ${nemesis.faults.length}`), 15_000)
    try {
      const watches = await chaos(nemesis, observer, loadStart + options.minutes * 60_000)
      await sleep(Math.max(0, loadStart + options.minutes * 60_000 - Date.now()))
      loadStop.abort()
      await producing
      const open = await settle(load, ledger, Date.now() + options.settleSeconds * 1000)
      if (open > 0) log(`${open} ids still open after ${options.settleSeconds} s`)
      await Promise.all(watches)
    } finally {
      clearInterval(status)
      loadStop.abort()
    }
    observer.stop()
    await ledger.catchUp(60_000)
    const stoppedAt = Date.now()
    const stopProblems = await fleet.stopAll()
    await origins.close() // every request they received is counted from here
    await ledger.catchUp(30_000)
    await ledger.stop()
    const kafkaAudit = await ledger.audit(300_000)
    const retries = await traceRetries(env.KAFKA_GROUP_ID ?? '', RETRY_SCHEDULE_MS, 120_000)
    const redis = await readRedis(topology.env, [...load.sent.keys()])
    const evidence: Evidence = {
      sent: load.sent,
      behaviours: origins.list.map((o) => o.behaviour),
      requests: origins.requests,
      letters: ledger.letters,
      inKafka: ledger.inKafka,
      sendingAt: ledger.sendingAt,
      kafkaAudit,
      outcomes: ledger.outcomes,
      redis,
      faults: nemesis.faults,
      lives: fleet.lives,
      logProblems: [...logProblems(fleet.lives.filter((l) => l.readyAt !== undefined).map((l) => l.logFile)), ...stopProblems],
      crashes: fleet.crashes,
      crashTimes: fleet.crashTimes,
      claimMs: CLAIM_MS,
      attemptMs: CALLBACK_TIMEOUT_MS,
      lagLimit: LAG_LIMIT,
      recoveryLimitMs: RECOVERY_LIMIT_MS,
      rssWarmupMs: 120_000,
      stoppedAt,
      retries,
    }
    const { checks, attribution } = checkAll(evidence)
    const odd = anomalies(evidence, loadStart)
    if (odd.length > 0) {
      writeFileSync(join(workDir, 'anomalies.json'), `${JSON.stringify({ faults: nemesis.faults.map((f) => ({ ...f, startedAt: f.startedAt - loadStart, endedAt: (f.endedAt ?? 0) - loadStart })), ids: odd }, null, 1)}\n`)
      log(`${odd.length} ids with anomalies: ${join(workDir, 'anomalies.json')}`)
    }
    // --keep-running keeps the topics too, to be read again by offset
    if (!options.keepRunning) await deleteTopicsWithPrefix(prefix).catch((e: unknown) => log(`deleting topics: ${shortError(e)}`))
    const summary: Summary = { seed: options.seed, minutes: options.minutes, redis: options.redis, rate: options.rate, origins: origins.list.length, replicas: options.replicas, sent: load.sent.size, startedAt: loadStart, wallMs: Date.now() - t0, checks, faults: nemesis.faults, attribution, maxLag: Math.max(0, ...observer.lag.map(([, lag]) => lag)) }
    const md = markdown(summary)
    console.log(md)
    if (options.md) writeFileSync(options.md, md)
    if (options.json) writeFileSync(options.json, json(summary))
    return checks.every((c) => c.ok) ? 0 : 1
  } finally {
    await fleet.stopAll().catch(() => undefined)
  }
}

async function cleanup(): Promise<void> {
  killAllChildrenNow()
  await origins.close().catch(() => undefined)
  if (!options.keepRunning) await topology.stop().catch((e: unknown) => console.error(`soak: stopping Kafka/Redis: ${shortError(e)}`))
}

process.on('exit', killAllChildrenNow)
// @platformatic/kafka 2.12 can emit 'error' on a connection nobody listens to any more (a broker
// killed during SASL re-authentication): the soak's own clients must not die of it; anything
// else still ends the run (its replicas, Kafka and Redis stopped by the handlers below).
process.on('uncaughtException', (error: Error & { code?: string }) => {
  if (typeof error.code === 'string' && error.code.startsWith('PLT_KFK_')) {
    log(`Kafka client error outside any request (ignored): ${shortError(error)}`)
    return
  }
  console.error(`soak: ${error.stack ?? String(error)}`)
  void cleanup().finally(() => process.exit(1))
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`soak: ${signal}: stopping replicas, Kafka and Redis`)
    abort.abort()
    void cleanup().finally(() => process.exit(130))
  })
}

if (options.cleanup) {
  const stopped = await Promise.allSettled([new Topology('cluster').stop(), new Topology('sentinel').stop()])
  for (const result of stopped) if (result.status === 'rejected') console.error(`soak --cleanup: ${shortError(result.reason)}`)
  process.exit(stopped.every((r) => r.status === 'fulfilled') ? 0 : 1)
}

soak().then(
  async (code) => {
    await cleanup()
    process.exit(code)
  },
  async (error: unknown) => {
    console.error(`soak: ${(error as Error).stack ?? String(error)}`)
    await cleanup()
    process.exit(1)
  },
)
