// The service on a secured, replicated Kafka cluster: the three brokers of
// scripts/kafka-cluster.sh (SASL_SSL with SCRAM, a mutual-TLS listener, replication 3,
// min.insync.replicas 2). Start-up over SASL_SSL and the topic layout it creates; refused
// credentials and certificates stopping start-up with one line and exit 78; mutual TLS; and
// partition leaders killed mid-stream without losing a notification.
// Runs on its own (`npm run test:cluster`, last step of `npm test`): it starts and stops the
// cluster, which takes its fixed ports 19092–19094, 19192–19494.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { after, before, describe, test, type TestContext } from 'node:test'
import { Admin, ConfigResourceTypes, ConfigSources, ProduceAcks, Producer, stringSerializers } from '@platformatic/kafka'
import type { KafkaConnection } from '../../src/kafka/connection.ts'
import { cluster, clusterConnection, clusterEnv, clusterTlsFiles, mtlsBrokers } from '../helpers/cluster.ts'
import { produce, readTopic, readTopicUntil, uniqueTopics, type TestTopics } from '../helpers/kafka.ts'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { startReceiver, type Receiver, type Responder } from '../helpers/receiver.ts'
import { allCommitted, metricValue, spawnService, startService, testEnv, waitUntil } from '../helpers/service.ts'

/** kafka-cluster.sh start takes 20–50 s on a loaded two-core machine (three JVMs); more on first use. */
const CLUSTER_START_MS = 300_000
const EXIT_CONFIG = 78

let env: Record<string, string>
let connection: KafkaConnection
let receiver: Receiver

before(async () => {
  await cluster(['start'], CLUSTER_START_MS)
  env = await clusterEnv()
  connection = clusterConnection(env)
  receiver = await startReceiver()
}, { timeout: CLUSTER_START_MS + 30_000 })

after(async () => {
  await receiver?.close()
  await cluster(['stop'], 120_000)
}, { timeout: 150_000 })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin({ clientId: 'cluster-test-admin', ...connection, retries: 5, retryDelay: 500 })
  try {
    return await fn(admin)
  } finally {
    await admin.close().catch(() => undefined)
  }
}

/** Every partition of `topics` has all its replicas in sync (after a broker came back). */
async function waitForFullIsr(topics: string[], timeoutMs: number): Promise<void> {
  await waitUntil(
    async () => {
      try {
        const metadata = await withAdmin((admin) => admin.metadata({ topics, forceUpdate: true }))
        return topics.every((name) => metadata.topics.get(name)?.partitions.every((p) => p.leader >= 0 && p.isr.length === p.replicas.length))
      } catch {
        return false
      }
    },
    timeoutMs,
    `all replicas of ${topics.length} topics in sync`,
  )
}

/** The real entry point as a child process; its stderr and stdout are kept for the assertions and for diagnosis. */
function spawnWithOutput(serviceEnv: Record<string, string>): { child: ChildProcess; stderr: () => string; stdout: () => string } {
  const child = spawnService(serviceEnv)
  let stderr = ''
  let stdout = ''
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout = (stdout + chunk).slice(-200_000)))
  return { child, stderr: () => stderr, stdout: () => stdout }
}

/** Waits for the child to exit, at most `timeoutMs` (then kills it and fails). */
async function exitOf(child: ChildProcess, timeoutMs: number): Promise<{ code: number | null; ms: number }> {
  const started = Date.now()
  if (child.exitCode !== null) return { code: child.exitCode, ms: 0 }
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null]
  clearTimeout(timer)
  const ms = Date.now() - started
  assert.ok(signal === null, `the service did not exit within ${timeoutMs} ms (killed: ${signal})`)
  return { code, ms }
}

/** The topics a service with these names and retry tiers creates (all of them, and only them, start with the unique prefix). */
function expectedTopics(topics: TestTopics, tierDelays: string[]): string[] {
  return [
    topics.KAFKA_TOPIC_FOR_SENDING,
    topics.KAFKA_TOPIC_FOR_AI_HANDLER,
    topics.KAFKA_TOPIC_FOR_NOTIFICATIONS,
    topics.KAFKA_TOPIC_DLQ,
    ...tierDelays.map((delay) => `${topics.KAFKA_GROUP_ID}.retry.${delay}`),
  ].sort()
}

describe('on a three-broker SASL_SSL cluster', () => {
  test('authenticates, lays out every topic it creates with 3 replicas, min.insync.replicas=2 and KAFKA_TOPIC_PARTITIONS partitions, and delivers', { timeout: 180_000 }, async () => {
    const topics = uniqueTopics('layout')
    const prefix = topics.KAFKA_TOPIC_FOR_SENDING.slice(0, -'.sending'.length)
    // 4, not the default 6: a layout that ignored the setting would show.
    const service = await startService(testEnv(topics, { ...env, KAFKA_TOPIC_PARTITIONS: '4', RETRY_SCHEDULE: '1s,2s' }))
    try {
      const wanted = expectedTopics(topics, ['1s', '2s'])
      const { created, metadata, configs } = await withAdmin(async (admin) => {
        const created = (await admin.listTopics()).filter((name) => name.startsWith(prefix)).sort()
        const metadata = await admin.metadata({ topics: wanted, forceUpdate: true })
        const configs = await admin.describeConfigs({ resources: wanted.map((name) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: name, configurationKeys: ['min.insync.replicas'] })) })
        return { created, metadata, configs }
      })
      assert.deepEqual(created, wanted, 'the input topics, outcomes, dead letters and one topic per retry tier')
      for (const name of wanted) {
        const topic = metadata.topics.get(name)
        assert.ok(topic, `${name} in the metadata`)
        assert.equal(topic.partitionsCount, 4, `${name}: partitions`)
        for (const [index, partition] of topic.partitions.entries()) {
          assert.equal(new Set(partition.replicas).size, 3, `${name}/${index}: replicas ${partition.replicas.join(',')}`)
          assert.ok(partition.leader >= 1 && partition.leader <= 3, `${name}: has a leader`)
        }
        const minIsr = configs.find((c) => c.resourceName === name)?.configs.find((c) => c.name === 'min.insync.replicas')
        assert.equal(minIsr?.value, '2', `${name}: min.insync.replicas`)
        // The cluster's own default is 2 as well: the topic must carry it itself, or a
        // cluster with another default would leave acks=all writes on a single replica.
        assert.equal(minIsr?.configSource, ConfigSources.TOPIC_CONFIG, `${name}: min.insync.replicas set on the topic, not inherited`)
      }
      assert.equal(await metricValue(service.app, 'kafka_topic_under_replicated'), 0, 'no topic reported under-replicated')

      const ids = Array.from({ length: 5 }, () => newProcessingId())
      await produce(ids.map((id) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/layout/${id}`)) })), connection)
      const delivered = await receiver.waitFor(ids.length, 30_000, (r) => r.path.startsWith('/layout/'))
      assert.deepEqual(delivered.map((r) => Number(r.path.split('/')[2])).sort(), [...ids].sort())
      const outcomes = await readTopic(topics.KAFKA_TOPIC_FOR_NOTIFICATIONS, ids.length, 30_000, connection)
      assert.deepEqual(outcomes.map((o) => (JSON.parse(o.value) as { processing_id: number }).processing_id).sort(), [...ids].sort())
    } finally {
      await service.close()
    }
  })

  test('a wrong password stops start-up with one line and exit 78', { timeout: 120_000 }, async (t) => {
    const { child, stderr, stdout } = spawnWithOutput(testEnv(uniqueTopics('badpw'), { ...env, KAFKA_SASL_PASSWORD: 'not-the-password' }))
    const { code, ms } = await exitOf(child, 60_000)
    t.diagnostic(`exit ${code} after ${ms} ms`)
    const lines = stderr().split('\n').filter((line) => line.trim() !== '')
    assert.equal(code, EXIT_CONFIG, `exit code; stderr: ${stderr()}; stdout tail: ${stdout().slice(-2000)}`)
    assert.equal(lines.length, 1, `one line on stderr, got: ${stderr()}`)
    assert.match(lines[0] ?? '', /^Cannot start: Kafka authentication failed/)
  })

  test('an untrusted broker certificate stops start-up with one line and exit 78', { timeout: 120_000 }, async (t) => {
    const { child, stderr, stdout } = spawnWithOutput(testEnv(uniqueTopics('badca'), { ...env, KAFKA_SSL_CA_FILE: clusterTlsFiles(env).untrustedCa }))
    const { code, ms } = await exitOf(child, 60_000)
    t.diagnostic(`exit ${code} after ${ms} ms`)
    const lines = stderr().split('\n').filter((line) => line.trim() !== '')
    assert.equal(code, EXIT_CONFIG, `exit code; stderr: ${stderr()}; stdout tail: ${stdout().slice(-2000)}`)
    assert.equal(lines.length, 1, `one line on stderr, got: ${stderr()}`)
    assert.match(lines[0] ?? '', /^Cannot start: Kafka TLS: the broker's certificate is not trusted/)
  })

  test('mutual TLS (SSL with a client certificate) on the mTLS listener: ready, and delivers', { timeout: 180_000 }, async () => {
    const files = clusterTlsFiles(env)
    const topics = uniqueTopics('mtls')
    const service = await startService(
      testEnv(topics, { KAFKA_BOOTSTRAP_SERVERS: mtlsBrokers().join(','), KAFKA_SECURITY_PROTOCOL: 'SSL', KAFKA_SSL_CA_FILE: files.ca, KAFKA_SSL_CERT_FILE: files.clientCert, KAFKA_SSL_KEY_FILE: files.clientKey }),
    )
    try {
      const id = newProcessingId()
      await produce([{ topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}/mtls/${id}`)) }], connection)
      const [request] = await receiver.waitFor(1, 30_000, (r) => r.path === `/mtls/${id}`)
      assert.equal(request?.headers['webhook-id'], `processing_${id}`)
    } finally {
      await service.close()
    }
  })

  test('leaders of the input partitions and of a retry tier killed mid-stream of 20,000 results (half failing once): all 20,000 delivered, lost 0', { timeout: 600_000 }, async (t) => {
    await leadersKilledMidStream(t)
  })
})

const TOTAL = 20_000
const BATCH = 250
/** At most ~400 results/s (about what the service delivers here, half of them twice). */
const BATCH_PAUSE_MS = 600
const RETRY_SCHEDULE = '1s,2s,5s'
const SERVICE_PORT = 18_591
const ORIGINS = 1000
const HELD_BACK = 8000

interface Seen {
  attempts: number
  /** 2xx answers. */
  delivered: number
  webhookIds: string[]
}

async function leadersKilledMidStream(t: TestContext): Promise<void> {
  const started = Date.now()
  const at = () => `${((Date.now() - started) / 1000).toFixed(1)} s`
  const note = (line: string) => t.diagnostic(`${at()} ${line}`)
  const topics = uniqueTopics('leaders')
  const tierTopic = `${topics.KAFKA_GROUP_ID}.retry.1s`
  const path = `/leaders/${topics.KAFKA_GROUP_ID}/`

  // Its own receivers: 503 to the first attempt of every even processing id, 200 otherwise.
  // ORIGINS of them (one port each, so one callback origin each), IDS_PER_ORIGIN ids each:
  // at most 10 failed attempts per origin, below the 16 of 20 that open its circuit, and at
  // most 20 in flight, below the 32 that mark it saturated. With one origin, ~10,000 503s
  // open its circuit by chance sooner or later (16 failures in some window of 20), and with
  // a 3-step schedule the notifications it then defers are given up (CALLBACK_UNAVAILABLE):
  // the origin gate working, which is not what this test is about.
  const seen = new Map<number, Seen>()
  let firstFailures = 0
  let deliveredCount = 0
  let evenRetried = 0
  let foreign = 0
  const respond: Responder = (request) => {
    // 1000 ephemeral ports: a late retry of another test's service may knock on one of them.
    if (!request.path.startsWith(path)) {
      foreign++
      return { status: 200 }
    }
    const id = Number(request.path.slice(path.length))
    let entry = seen.get(id)
    if (!entry) seen.set(id, (entry = { attempts: 0, delivered: 0, webhookIds: [] }))
    entry.attempts++
    const even = id % 2 === 0
    if (even && entry.attempts === 2) evenRetried++
    if (even && entry.attempts === 1) {
      firstFailures++
      return { status: 503 }
    }
    if (entry.delivered++ === 0) deliveredCount++
    entry.webhookIds.push(String(request.headers['webhook-id']))
    return { status: 200 }
  }
  const receivers = await Promise.all(Array.from({ length: ORIGINS }, () => startReceiver(respond)))
  const deliveredIds = () => deliveredCount
  /** Even ids answered 503 and not attempted again yet: waiting in the 1 s tier. */
  const parked = () => firstFailures - evenRetried

  // The real entry point, as `npm start` runs it: the receiver and the producer stay in this
  // process, so neither the service's event loop nor theirs delays the other's answers
  // (late answers would time out and be retried, which is not what is under test).
  const serviceEnv = testEnv(topics, { ...env, RETRY_SCHEDULE, CALLBACK_TIMEOUT_MS: '15000', HTTP_PORT: String(SERVICE_PORT) })
  const service = spawnWithOutput(serviceEnv)
  const killed: Array<{ broker: number; what: string; at: string; deliveredBefore: number; parkedAt: number }> = []
  let producer: Producer<string, string, string, string> | undefined
  let produced = 0
  let stopProducing = false
  let releaseRest = () => {}
  const progress = setInterval(() => {
    note(`progress: ${produced} produced, ${deliveredIds()} delivered, ${firstFailures} first attempts failed, ${parked()} parked`)
  }, 10_000)
  try {
    await waitUntil(async () => (await fetch(`http://127.0.0.1:${SERVICE_PORT}/readyz`).catch(() => undefined))?.status === 200, 120_000, 'service ready')
    note(`service ready (its log: ${serviceEnv.LOG_DIR}/notification_service.log)`)
    const ourTopics = expectedTopics(topics, ['1s', '2s', '5s'])

    // Producing in the background, acks=all, idempotent; a send that fails even after the
    // client's retries is sent again (the service's done marker drops the copy).
    const ids = Array.from({ length: TOTAL }, () => newProcessingId())
    producer = new Producer({ clientId: 'cluster-test-producer', ...connection, serializers: stringSerializers, acks: ProduceAcks.ALL, idempotent: true, retries: 10, retryDelay: 500 })
    let resent = 0
    // The last HELD_BACK results wait until the first broker is back and the second one is
    // chosen, so that both faults fall inside the stream however fast or slow this machine is.
    const rest = new Promise<void>((resolve) => (releaseRest = resolve))
    const producing = (async () => {
      for (let i = 0; i < ids.length && !stopProducing; i += BATCH) {
        if (i === TOTAL - HELD_BACK) {
          note(`${produced} produced; the last ${HELD_BACK} wait until the second fault is ready`)
          await rest
        }
        // Two consecutive ids per partition: every partition carries failing and succeeding ones alike.
        const messages = ids.slice(i, i + BATCH).map((id, j) => ({
          topic: topics.KAFKA_TOPIC_FOR_SENDING,
          partition: Math.floor((i + j) / 2) % 6,
          key: 'new_sending',
          value: JSON.stringify(successResult(id, `${receivers[Math.floor((i + j) / 2) % ORIGINS]?.url}${path}${id}`)),
        }))
        for (let attempt = 1; ; attempt++) {
          try {
            await producer?.send({ messages })
            break
          } catch (error) {
            if (attempt >= 10) throw error
            resent += messages.length
            note(`a send of ${messages.length} failed (${(error as Error).message}); sending again`)
            await sleep(1000)
          }
        }
        produced += messages.length
        await sleep(BATCH_PAUSE_MS)
      }
      note(`produced all ${produced}`)
    })()
    producing.catch(() => undefined)

    const kill = async (broker: number, what: string) => {
      killed.push({ broker, what, at: at(), deliveredBefore: deliveredIds(), parkedAt: parked() })
      await cluster(['kill-broker', String(broker)], 60_000)
      note(`killed broker ${broker} (${what}); ${deliveredIds()} delivered, ${produced} produced, ${parked()} parked in the 1 s tier`)
    }
    const restart = async (broker: number) => {
      await sleep(10_000)
      await cluster(['start-broker', String(broker)], 180_000)
      note(`broker ${broker} serves again`)
      await waitForFullIsr(ourTopics, 120_000)
      note('all replicas in sync')
    }

    // Fault 1: the leader of input partition 0, once deliveries are under way.
    await waitUntil(() => deliveredIds() >= 2000, 120_000, '2000 delivered')
    const first = Number(await cluster(['leader', topics.KAFKA_TOPIC_FOR_SENDING, '0'], 60_000))
    await kill(first, `leader of ${topics.KAFKA_TOPIC_FOR_SENDING}/0`)
    await restart(first)

    // Fault 2: the leader of a retry-tier partition while the tier holds records, and another broker than the first.
    let second = Number(await cluster(['leader', tierTopic, '0'], 60_000))
    let tierPartition = 0
    if (second === first) {
      const metadata = await withAdmin((admin) => admin.metadata({ topics: [tierTopic], forceUpdate: true }))
      const other = metadata.topics.get(tierTopic)?.partitions.findIndex((p) => p.leader !== first && p.leader >= 1) ?? -1
      assert.ok(other >= 0, `every partition of ${tierTopic} is led by broker ${first}`)
      tierPartition = other
      second = Number(await cluster(['leader', tierTopic, String(other)], 60_000))
    }
    assert.notEqual(second, first, 'two different brokers die over the run')
    releaseRest()
    await waitUntil(() => parked() >= 50, 60_000, 'records parked in the 1 s tier')
    await kill(second, `leader of ${tierTopic}/${tierPartition}`)
    await restart(second)
    for (const fault of killed) {
      assert.ok(fault.deliveredBefore < TOTAL, `broker ${fault.broker} died mid-stream (${fault.deliveredBefore} of ${TOTAL} delivered)`)
    }
    assert.ok((killed[1]?.parkedAt ?? 0) > 0, 'the 1 s tier held records when its leader died')

    // Positive signals: every id answered 2xx at the receiver, every id's outcome on the outcomes topic.
    await producing
    await waitUntil(() => deliveredIds() === TOTAL, 240_000, `all ${TOTAL} delivered`).catch((error: unknown) => {
      note(`service output (tail): ${service.stdout().slice(-3000)}`)
      throw error
    })
    note(`all ${TOTAL} delivered`)
    // Outcomes are published at least once: a produce whose answer was lost in a leader
    // change is sent again, so the topic may hold some twice. Read until every id has one.
    const outcomeIds = new Set<number>()
    const otherOutcomes = new Map<number, string>()
    const outcomes = await readTopicUntil(
      topics.KAFKA_TOPIC_FOR_NOTIFICATIONS,
      (records) => {
        const outcome = JSON.parse(records.at(-1)?.value ?? '{}') as { processing_id?: number; status?: string }
        if (outcome.processing_id === undefined) return false
        if (outcome.status === 'delivered') outcomeIds.add(outcome.processing_id)
        else otherOutcomes.set(outcome.processing_id, String(outcome.status))
        return outcomeIds.size >= TOTAL
      },
      120_000,
      connection,
    )
    const outcomeRecords = await withAdmin(async (admin) => {
      const [listed] = await admin.listOffsets({ topics: [{ name: topics.KAFKA_TOPIC_FOR_NOTIFICATIONS, partitions: [0, 1, 2, 3, 4, 5].map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) }] })
      return Number(listed?.partitions.reduce((sum, p) => sum + p.offset, 0n) ?? -1n)
    })
    note(`outcomes: every id's read after ${outcomes.length} records; the topic holds ${outcomeRecords}`)
    // Late duplicates, if any, are sent before this: once the group and every retry tier have
    // committed all their records, each reached a durable end and none will be handled again.
    await allCommitted(serviceEnv, 120_000, connection)
    const wallSeconds = ((Date.now() - started) / 1000).toFixed(1)

    const counts = { sent: TOTAL, once: 0, twice: 0, more: 0, lost: 0 }
    const wrongIds: string[] = []
    let evenRetriedAtEnd = 0
    for (const id of ids) {
      const entry = seen.get(id)
      const delivered = entry?.delivered ?? 0
      if (delivered === 0) counts.lost++
      else if (delivered === 1) counts.once++
      else if (delivered === 2) counts.twice++
      else counts.more++
      for (const webhookId of entry?.webhookIds ?? []) if (webhookId !== `processing_${id}`) wrongIds.push(`${id}: ${webhookId}`)
      if (id % 2 === 0 && (entry?.attempts ?? 0) >= 2) evenRetriedAtEnd++
    }
    const sent = new Set(ids)
    const strangers = [...seen.keys()].filter((id) => !sent.has(id))
    t.diagnostic(`faults: ${killed.map((k) => `broker ${k.broker} (${k.what}) at ${k.at}, ${k.deliveredBefore} delivered, ${k.parkedAt} parked`).join('; ')}`)
    t.diagnostic('| sent | delivered once | twice | more | lost | produce re-sends | outcome records | foreign requests | wall time |')
    t.diagnostic(`| ${counts.sent} | ${counts.once} | ${counts.twice} | ${counts.more} | ${counts.lost} | ${resent} | ${outcomeRecords} (${outcomeIds.size} ids) | ${foreign} | ${wallSeconds} s |`)

    assert.equal(counts.lost, 0, 'lost')
    if (outcomeIds.size < TOTAL) {
      // What is needed to tell why, from a CI log alone.
      const missing = ids.filter((id) => !outcomeIds.has(id)).slice(0, 10)
      note(`no "delivered" outcome for: ${missing.map((id) => `${id} (${otherOutcomes.get(id) ?? 'none'})`).join(', ')}`)
      const log = readFileSync(`${serviceEnv.LOG_DIR}/notification_service.log`, 'utf8')
      note(`service log, warnings and errors: ${summariseWarnings(log)}`)
      note(`service log about them: ${log.split('\n').filter((line) => missing.some((id) => line.includes(String(id)))).join('\n').slice(-4000)}`)
      const metrics = await (await fetch(`http://127.0.0.1:${SERVICE_PORT}/metrics`)).text().catch(() => '')
      note(`service metrics now (records stuck in flight, lag, dead letters): ${metrics.split('\n').filter((line) => /^(notifications_in_flight|kafka_consumer_lag|notifications_dead_lettered_total|infrastructure_retries_total)/.test(line)).join('; ')}`)
    }
    assert.equal(outcomeIds.size, TOTAL, 'a "delivered" outcome for every id')
    assert.deepEqual(wrongIds, [], 'every 2xx delivery carries webhook-id processing_<id>')
    assert.equal(strangers.length, 0, 'no deliveries for ids never sent')
    assert.equal(evenRetriedAtEnd, TOTAL / 2, 'every even id was attempted at least twice (went through a retry tier)')
    // No service process dies here: the claim and the done marker (Redis) let a record read
    // twice (a batch re-sent by the producer, a partition re-read after a consumer restart)
    // be delivered once. A duplicate would mean a 2xx that was not settled.
    assert.equal(counts.twice + counts.more, 0, `duplicate 2xx deliveries: ${counts.twice} twice, ${counts.more} more`)

    service.child.kill('SIGTERM')
    const { code } = await exitOf(service.child, 60_000)
    assert.equal(code, 0, 'graceful stop')
  } finally {
    clearInterval(progress)
    stopProducing = true
    releaseRest()
    await producer?.close().catch(() => undefined)
    if (service.child.exitCode === null && service.child.signalCode === null) {
      service.child.kill('SIGKILL')
      await once(service.child, 'exit')
    }
    await Promise.all(receivers.map((r) => r.close()))
    // A failure half-way must not leave a broker down for what follows.
    for (const { broker } of killed) await cluster(['start-broker', String(broker)], 180_000).catch(() => undefined)
  }
}

/** Each distinct warning or error of a pino log (level ≥ 40) with how often it appears. */
function summariseWarnings(log: string): string {
  const counts = new Map<string, number>()
  for (const line of log.split('\n')) {
    let entry: { level?: number; msg?: string; code?: string; error?: string }
    try {
      entry = JSON.parse(line) as typeof entry
    } catch {
      continue
    }
    if ((entry.level ?? 0) < 40) continue
    const what = `${entry.msg ?? ''} ${entry.code ?? ''} ${String(entry.error ?? '').slice(0, 200)}`.trim()
    counts.set(what, (counts.get(what) ?? 0) + 1)
  }
  return [...counts].map(([what, count]) => `${count}× ${what}`).join('; ')
}
