// Checks that the service's Kafka client (@platformatic/kafka) works against the
// three-broker SASL_SSL cluster of scripts/kafka-cluster.sh, and shows the errors it gives
// for a wrong password and for an untrusted CA.
//
//   bash scripts/kafka-cluster.sh start
//   node scripts/kafka-cluster-check.ts                # admin, produce/consume, mTLS, errors
//   node scripts/kafka-cluster-check.ts --kill-leader  # also: kill -9 a partition leader mid-stream
//
// Connection settings come from `scripts/kafka-cluster.sh env` (KAFKA_* variables in the
// environment take precedence). Exit code 0 only if every check passed.
//
// Client options that work (@platformatic/kafka 2.12), on top of clientId/bootstrapBrokers:
//   SASL_SSL: { sasl: { mechanism: 'SCRAM-SHA-512', username, password }, tls: { ca: readFileSync(caFile) } }
//             (mechanism 'SCRAM-SHA-256' and 'PLAIN' work too; `ssl` is an alias of `tls`)
//   mTLS:     { tls: { ca, cert: readFileSync('client.pem'), key: readFileSync('client.key') } } on the SSL ports
// Found here: a wrong password surfaces as an AuthenticationError (canRetry false) only as the
// `cause` of a NetworkError (canRetry true) inside nested MultipleErrors, so the client retries
// it like a network failure, and findErrorBy() (which follows `errors`, not `cause`) does not
// find it; an untrusted CA is a NetworkError whose cause is Node's TLS error
// (code SELF_SIGNED_CERT_IN_CHAIN). Run it to see the exact chains.
import { spawnSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Admin, AuthenticationError, Consumer, findErrorBy, NetworkError, MessagesStreamModes, ProduceAcks, Producer, stringDeserializer, type Message, type SASLMechanismValue } from '@platformatic/kafka'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const CLUSTER = join(ROOT, 'scripts/kafka-cluster.sh')
const RECORDS = 100

function clusterEnv(): Record<string, string> {
  const run = spawnSync('bash', [CLUSTER, 'env'], { encoding: 'utf8' })
  if (run.status !== 0) throw new Error(`kafka-cluster.sh env failed: ${run.stderr}`)
  const env: Record<string, string> = {}
  for (const line of run.stdout.split('\n')) {
    const at = line.indexOf('=')
    if (at > 0) env[line.slice(0, at)] = process.env[line.slice(0, at)] ?? line.slice(at + 1)
  }
  return env
}

const env = clusterEnv()
const brokers = (env.KAFKA_BOOTSTRAP_SERVERS ?? '').split(',')
const caFile = env.KAFKA_SSL_CA_FILE ?? ''
const tlsDir = dirname(caFile)
const sasl = { mechanism: (env.KAFKA_SASL_MECHANISM ?? 'SCRAM-SHA-512') as SASLMechanismValue, username: env.KAFKA_SASL_USERNAME ?? '', password: env.KAFKA_SASL_PASSWORD ?? '' }
const tls = { ca: readFileSync(caFile) }
// The SSL (mutual TLS) listener: base port KAFKA_CLUSTER_SSL_PORT (19392), broker N at base + N - 1.
const sslBase = Number(process.env.KAFKA_CLUSTER_SSL_PORT ?? 19392)
const sslBrokers = [0, 1, 2].map((i) => `127.0.0.1:${sslBase + i}`)

let failures = 0
const ok = (what: string) => console.log(`OK   ${what}`)
const fail = (what: string, error?: unknown) => {
  failures++
  console.log(`FAIL ${what}${error ? `: ${JSON.stringify(errorShape(error))}` : ''}`)
}

type Inspectable = Error & { code?: unknown; canRetry?: unknown; errors?: unknown[]; apiId?: unknown; serverErrorMessage?: unknown }

/** The parts of an error the service would look at: class, code, canRetry, message, nested errors and cause. */
function errorShape(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { value: String(error) }
  const e = error as Inspectable
  const shape: Record<string, unknown> = { class: e.constructor.name, code: e.code, canRetry: e.canRetry, message: e.message }
  if (e.apiId !== undefined) Object.assign(shape, { apiId: e.apiId, serverErrorMessage: e.serverErrorMessage })
  if (Array.isArray(e.errors) && e.errors.length > 0) shape.errors = e.errors.map(errorShape)
  if (e.cause !== undefined) shape.cause = errorShape(e.cause)
  return shape
}

/**
 * One line per level from the outer error down to the first leaf (first nested error, else
 * the cause); the library nests one MultipleErrors per retry and per broker.
 */
function errorChain(error: unknown): string[] {
  const lines: string[] = []
  let current: unknown = error
  for (let depth = 0; current instanceof Error && depth < 12; depth++) {
    const e = current as Inspectable
    const nested = Array.isArray(e.errors) ? ` [${e.errors.length} nested]` : ''
    const api = e.apiId !== undefined ? ` apiId=${JSON.stringify(e.apiId)} serverErrorMessage=${JSON.stringify(e.serverErrorMessage)}` : ''
    lines.push(`${'  '.repeat(depth)}${e.constructor.name} code=${String(e.code)} canRetry=${String(e.canRetry)}${api} message=${JSON.stringify(e.message)}${nested}`)
    current = Array.isArray(e.errors) && e.errors.length > 0 ? e.errors[0] : e.cause
  }
  return lines
}

/** How a caller can classify the error with the library's own helpers. */
function classify(error: unknown): string {
  const err = error instanceof Error ? error : null
  const auth = findErrorBy(err, 'code', AuthenticationError.code)
  const saslFailed = findErrorBy(err, 'apiId', 'SASL_AUTHENTICATION_FAILED')
  return `findErrorBy(code=PLT_KFK_AUTHENTICATION)=${auth ? 'found' : 'null'}, findErrorBy(apiId=SASL_AUTHENTICATION_FAILED)=${saslFailed ? 'found' : 'null'}, NetworkError.isRetryable=${NetworkError.isRetryable(err)}`
}

function report(what: string, result: { ms: number; error?: unknown }): void {
  console.log(`OK   ${what} fails after ${result.ms} ms; ${classify(result.error)}`)
  for (const line of errorChain(result.error)) console.log(`       ${line}`)
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now()
  try {
    const value = await fn()
    return { ms: Math.round(performance.now() - started), value }
  } catch (error) {
    return { ms: Math.round(performance.now() - started), error }
  }
}

async function withAdmin<T>(options: ConstructorParameters<typeof Admin>[0], fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = new Admin(options)
  try {
    return await fn(admin)
  } finally {
    await admin.close().catch(() => undefined)
  }
}

async function waitForLeaders(admin: Admin, topic: string, partitions: number): Promise<void> {
  const deadline = Date.now() + 30_000
  for (;;) {
    try {
      const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
      const t = metadata.topics.get(topic)
      if (t && t.partitionsCount === partitions && t.partitions.every((p) => p.leader >= 0)) return
    } catch {
      // not propagated yet
    }
    if (Date.now() > deadline) throw new Error(`topic ${topic} has no leaders after 30 s`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const base = { bootstrapBrokers: brokers, sasl, tls }
const topic = `cluster-check-${randomUUID().slice(0, 8)}`

// 1. Admin over SASL_SSL: list topics, create one with 3 replicas.
const listed = await timed(() => withAdmin({ clientId: 'cluster-check-admin', ...base }, (admin) => admin.listTopics()))
if (listed.error) fail('admin listTopics (SCRAM-SHA-512 over TLS)', listed.error)
else ok(`admin listTopics over SASL_SSL/${sasl.mechanism}: ${listed.value?.length} topics (${listed.ms} ms)`)

const created = await timed(() =>
  withAdmin({ clientId: 'cluster-check-admin', ...base }, async (admin) => {
    await admin.createTopics({ topics: [topic], partitions: 3, replicas: 3 })
    await waitForLeaders(admin, topic, 3)
    const metadata = await admin.metadata({ topics: [topic] })
    return metadata.topics.get(topic)?.partitions.map((p) => `p${p.replicas.join('')}/isr${p.isr.join('')}/leader${p.leader}`)
  }),
)
if (created.error) fail(`createTopics ${topic}`, created.error)
else ok(`created ${topic}, 3 partitions x 3 replicas: ${created.value?.join(' ')} (${created.ms} ms)`)

// 2. Produce RECORDS with acks=all, consume them back.
async function produce(count: number, from = 0, pauseMs = 0, onEach?: (i: number) => Promise<void>): Promise<{ sent: number; errors: unknown[] }> {
  const producer = new Producer({ clientId: 'cluster-check-producer', ...base, acks: ProduceAcks.ALL, idempotent: true, retries: 10, retryDelay: 250 })
  const errors: unknown[] = []
  let sent = 0
  try {
    for (let i = from; i < from + count; i += 10) {
      const messages = Array.from({ length: Math.min(10, from + count - i) }, (_, j) => ({ topic, key: Buffer.from(`k${i + j}`), value: Buffer.from(`record ${i + j}`) }))
      try {
        await producer.send({ messages, acks: ProduceAcks.ALL })
        sent += messages.length
      } catch (error) {
        errors.push(error)
      }
      await onEach?.(i)
      if (pauseMs) await new Promise((resolve) => setTimeout(resolve, pauseMs))
    }
  } finally {
    await producer.close()
  }
  return { sent, errors }
}

/**
 * Reads the topic from the start until `expected` distinct keys were seen or the time is up.
 * A failed stream is replaced by a new consumer (as the service's ConsumerLoop does);
 * `streamErrors` counts how often that happened.
 */
async function consume(expected: number, timeoutMs: number): Promise<{ keys: Set<string>; records: number; streamErrors: number }> {
  const keys = new Set<string>()
  const deadline = Date.now() + timeoutMs
  let records = 0
  let streamErrors = 0
  while (keys.size < expected && Date.now() < deadline) {
    // retries and retryDelay as in the service's ConsumerLoop (src/kafka/consumer-loop.ts)
    const consumer = new Consumer<string, Buffer, Buffer, Buffer>({ clientId: 'cluster-check-consumer', groupId: `cluster-check-${randomUUID()}`, ...base, deserializers: { key: stringDeserializer }, autocommit: false, retries: 5, retryDelay: 500 })
    try {
      const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST, autocommit: false, maxWaitTime: 500 })
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
        const done = () => {
          clearTimeout(timer)
          resolve()
        }
        stream.on('data', (message: Message<string, Buffer, Buffer, Buffer>) => {
          records++
          keys.add(message.key)
          if (keys.size >= expected) done()
        })
        stream.on('error', (error: unknown) => {
          streamErrors++
          console.log(`     ${new Date().toISOString()} consumer stream failed, new consumer: ${errorChain(error).slice(0, 2).join(' / ')}`)
          done()
        })
      })
      await stream.close().catch(() => undefined)
    } catch (error) {
      streamErrors++
      console.log(`     consumer failed, new consumer: ${errorChain(error).slice(0, 2).join(' / ')}`)
      await new Promise((resolve) => setTimeout(resolve, 500))
    } finally {
      await consumer.close(true).catch(() => undefined)
    }
  }
  return { keys, records, streamErrors }
}

const killLeader = process.argv.includes('--kill-leader')
if (!created.error && !killLeader) {
  const produced = await timed(() => produce(RECORDS))
  if (produced.error || (produced.value?.errors.length ?? 0) > 0) fail('produce', produced.error ?? produced.value?.errors[0])
  else ok(`produced ${produced.value?.sent} records with acks=all, idempotent (${produced.ms} ms)`)
  const consumed = await timed(() => consume(RECORDS, 30_000))
  if (consumed.error) fail('consume', consumed.error)
  else if (consumed.value?.keys.size !== RECORDS) fail(`consumed ${consumed.value?.keys.size} of ${RECORDS} distinct records`)
  else ok(`consumed ${consumed.value.keys.size} distinct records (${consumed.value.records} in all, ${consumed.ms} ms)`)
}

// 3. Fault: produce slowly while consuming; kill -9 the leader of partition 0 half-way.
if (!created.error && killLeader) {
  const total = 400
  const consuming = consume(total, 120_000)
  let killed = ''
  const cluster = (...args: string[]) => spawnSync('bash', [CLUSTER, ...args], { encoding: 'utf8' })
  const produced = await timed(() =>
    produce(total, 0, 100, async (i) => {
      if (i !== total / 2) return
      const leader = cluster('leader', topic, '0').stdout.trim()
      cluster('kill-broker', leader)
      killed = leader
      console.log(`     ${new Date().toISOString()} killed broker ${leader} (leader of ${topic}/0) after ${i} records`)
      await Promise.resolve()
    }),
  )
  const consumed = await consuming
  const sent = produced.value?.sent ?? 0
  console.log(`     produced ${sent}/${total} in ${produced.ms} ms, ${produced.value?.errors.length ?? 0} failed sends; consumed ${consumed.keys.size} distinct (${consumed.records} in all), ${consumed.streamErrors} consumer stream failure(s)`)
  for (const error of (produced.value?.errors ?? []).slice(0, 3)) console.log(`     send error: ${JSON.stringify(errorShape(error))}`)
  if (sent === total && consumed.keys.size === total) ok(`kill -9 of leader broker ${killed}: producer and consumer carried on, nothing lost`)
  else fail(`kill -9 of leader broker ${killed}: produced ${sent}, consumed ${consumed.keys.size} of ${total}`)
  if (killed) {
    const restart = cluster('start-broker', killed)
    console.log(`     ${restart.stdout.trim()}${restart.status === 0 ? '' : ` (exit ${restart.status}) ${restart.stderr}`}`)
  }
}

// 4. Other SASL mechanisms, and mutual TLS on the SSL listener.
for (const mechanism of ['SCRAM-SHA-256', 'PLAIN'] as const) {
  const r = await timed(() => withAdmin({ clientId: 'cluster-check-mech', bootstrapBrokers: brokers, tls, sasl: { ...sasl, mechanism } }, (admin) => admin.listTopics()))
  if (r.error) fail(`listTopics with ${mechanism}`, r.error)
  else ok(`listTopics with sasl.mechanism ${mechanism} (${r.ms} ms)`)
}
const mtls = { ca: tls.ca, cert: readFileSync(join(tlsDir, 'client.pem')), key: readFileSync(join(tlsDir, 'client.key')) }
const mutual = await timed(() => withAdmin({ clientId: 'cluster-check-mtls', bootstrapBrokers: sslBrokers, tls: mtls }, (admin) => admin.listTopics()))
if (mutual.error) fail('listTopics over mutual TLS (SSL listener)', mutual.error)
else ok(`listTopics over mutual TLS on ${sslBrokers[0]}.. with tls { ca, cert, key } (${mutual.ms} ms)`)
const noCert = await timed(() => withAdmin({ clientId: 'cluster-check-mtls', bootstrapBrokers: sslBrokers, tls, retries: 0 }, (admin) => admin.listTopics()))
if (noCert.error) report('SSL listener without a client certificate', noCert)
else fail('SSL listener accepted a client without certificate')

// 5. Errors the service must report at start-up: wrong password, untrusted CA; with the
// default retries (as the service's clients have them) and with retries: 0.
const untrusted = { ca: readFileSync(join(tlsDir, 'untrusted-ca.pem')) }
for (const retries of [undefined, 0]) {
  const label = retries === undefined ? 'default retries' : `retries: ${retries}`
  const wrongPassword = await timed(() => withAdmin({ clientId: 'cluster-check-badpw', ...base, sasl: { ...sasl, password: 'wrong' }, ...(retries === undefined ? {} : { retries }) }, (admin) => admin.listTopics()))
  if (wrongPassword.error) report(`wrong password (${label})`, wrongPassword)
  else fail('wrong password was accepted')
  const wrongCa = await timed(() => withAdmin({ clientId: 'cluster-check-badca', ...base, tls: untrusted, ...(retries === undefined ? {} : { retries }) }, (admin) => admin.listTopics()))
  if (wrongCa.error) report(`untrusted CA (${label})`, wrongCa)
  else fail('a broker certificate was trusted with an unrelated CA')
}
if (process.argv.includes('--full-errors')) {
  const e = await timed(() => withAdmin({ clientId: 'cluster-check-badpw', ...base, sasl: { ...sasl, password: 'wrong' }, retries: 0 }, (admin) => admin.listTopics()))
  console.log(JSON.stringify(errorShape(e.error), null, 2))
}

const noTls = await timed(() => withAdmin({ clientId: 'cluster-check-notls', bootstrapBrokers: brokers, sasl, retries: 0, connectTimeout: 3000, timeout: 5000 }, (admin) => admin.listTopics()))
if (noTls.error) report('no tls option (plaintext to the SASL_SSL port)', noTls)
else fail('plaintext connection to the SASL_SSL listener succeeded')

// Clean up the topic.
await withAdmin({ clientId: 'cluster-check-admin', ...base }, (admin) => admin.deleteTopics({ topics: [topic] })).catch((error: unknown) => console.log(`     (could not delete ${topic}: ${String(error)})`))

console.log(failures === 0 ? 'OK all checks passed' : `FAILED ${failures} check(s)`)
process.exit(failures === 0 ? 0 : 1)
