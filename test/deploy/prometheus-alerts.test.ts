// A real Prometheus (Debian's package) scraping a real service (the entry point as a child
// process, its own Redis): with deploy/prometheus/alerts.yaml loaded, no alert fires while
// it is healthy; when every callback fails NotificationsDeadLettered fires; when its Redis
// is gone RedisUnavailable fires. Every panel of deploy/grafana/notification-service.json
// answers with data from the same Prometheus, and `promtool check metrics` finds nothing
// wrong with the service's own metrics.
// The rules are the file's, with each `for:` of N minutes shortened to 2N seconds.
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { produce, uniqueTopics } from '../helpers/kafka.ts'
import { startReceiver, type Receiver } from '../helpers/receiver.ts'
import { ROOT, freePort, readyChild, testEnv, waitUntil, type Child } from '../helpers/service.ts'
import { PROMTOOL, startPrometheus, type RunningPrometheus } from './prometheus.ts'

const topics = uniqueTopics('alerts')
const ADMIN_TOKEN = 'test-admin-token-0123456789'
const RULES = readFileSync(join(ROOT, 'deploy/prometheus/alerts.yaml'), 'utf8').replace(/^(\s+for: )(\d+)m$/gm, (_, prefix: string, minutes: string) => `${prefix}${Number(minutes) * 2}s`)
const DASHBOARD = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/notification-service.json'), 'utf8')) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>
}

let redisPort: number
let redis: ChildProcess | undefined
let receiver: Receiver
/** Another callback origin, answering 503: its circuit opens (the circuits panel). */
let failing: Receiver
let service: Child | undefined
let prometheus: RunningPrometheus | undefined

function startRedis(): ChildProcess {
  return spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
}

async function redisAnswers(): Promise<boolean> {
  const client = new Redis({ port: redisPort, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  client.on('error', () => undefined)
  try {
    await client.connect()
    return (await client.ping()) === 'PONG'
  } catch {
    return false
  } finally {
    client.disconnect()
  }
}

async function stopProcess(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill(signal)
  await exited
}

/** Results to a receiver, `count` of them. */
async function sendResults(count: number, to: Receiver = receiver): Promise<void> {
  const records = Array.from({ length: count }, () => {
    const id = newProcessingId()
    return { topic: topics.KAFKA_TOPIC_FOR_SENDING, key: 'new_sending', value: JSON.stringify(successResult(id, `${to.url}/hook/${id}`)) }
  })
  await produce(records)
}

/** The value of an instant query with one series, or undefined. */
async function scalar(expr: string): Promise<number | undefined> {
  const [sample] = (await prometheus?.query(expr)) ?? []
  return sample === undefined ? undefined : Number(sample.value[1])
}

/** Waits until Prometheus evaluated the rules after this moment (a full evaluation round). */
async function rulesEvaluatedAfter(moment: number): Promise<void> {
  await waitUntil(
    async () => {
      const response = await fetch(`${prometheus?.url}/api/v1/rules`)
      const body = (await response.json()) as { data: { groups: Array<{ lastEvaluation: string }> } }
      return body.data.groups.every((group) => Date.parse(group.lastEvaluation) > moment)
    },
    10_000,
    'a rule evaluation',
  )
}

async function firingNames(): Promise<string[]> {
  return ((await prometheus?.firing()) ?? []).map((alert) => alert.labels.alertname ?? '')
}

before(async () => {
  redisPort = await freePort()
  redis = startRedis()
  await waitUntil(redisAnswers, 10_000, 'private redis-server')
  receiver = await startReceiver()
  failing = await startReceiver(() => ({ status: 503 }))
  service = await readyChild(testEnv(topics, { REDIS_URL: `redis://127.0.0.1:${redisPort}`, ADMIN_TOKEN, MEMORY_LIMIT_MB: '512' }))
  prometheus = await startPrometheus(`127.0.0.1:${service.httpPort}`, RULES)
})

after(async () => {
  await prometheus?.stop()
  // Redis back first, so the service stops at once instead of waiting for it.
  if (redis?.exitCode !== null) redis = startRedis()
  await waitUntil(redisAnswers, 10_000, 'private redis-server').catch(() => undefined)
  await stopProcess(service)
  await receiver?.close()
  await failing?.close()
  await stopProcess(redis)
})

describe('alerts and dashboard against a real Prometheus and a real service', { timeout: 90_000 }, () => {
  test('healthy: notifications delivered, scraped, the rules evaluated, and no alert fires', async () => {
    await sendResults(40)
    await receiver.waitFor(40, 30_000)
    await waitUntil(async () => ((await scalar('sum(notifications_delivered_total)')) ?? 0) >= 40, 20_000, 'Prometheus to see 40 delivered')
    await waitUntil(async () => ((await scalar('sum(notification_outcomes_published_total)')) ?? 0) >= 40, 20_000, 'Prometheus to see 40 outcomes')
    await rulesEvaluatedAfter(Date.now())
    assert.deepEqual(await firingNames(), [])
  })

  test('every callback fails: NotificationsDeadLettered fires', async () => {
    // 410 Gone is final at once: each notification is dead-lettered after one attempt.
    receiver.respond = () => ({ status: 410 })
    await sendResults(20, failing)
    // Results every 200 ms: the counter keeps increasing, as in a real outage.
    let fired = false
    const feeding = (async () => {
      while (!fired) {
        await sendResults(3)
        await new Promise((resolve) => setTimeout(resolve, 200))
      }
    })()
    try {
      await waitUntil(async () => (await firingNames()).includes('NotificationsDeadLettered'), 40_000, 'NotificationsDeadLettered to fire')
    } finally {
      fired = true
      await feeding
    }
    const alert = (await prometheus?.firing())?.find((firing) => firing.labels.alertname === 'NotificationsDeadLettered')
    assert.equal(alert?.labels.severity, 'warning')
    assert.equal(alert?.labels.code, 'DELIVERY_GONE')
  })

  test('every dashboard panel answers with data', async () => {
    // An origin paused by an operator, for the pauses panel.
    const paused = await fetch(`http://127.0.0.1:${service?.httpPort}/admin/origins/pause`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ origin: 'https://paused.example' }),
    })
    assert.equal(paused.status, 200)
    const queries = DASHBOARD.panels.flatMap((panel) => panel.targets.map((target) => ({ panel: panel.title, expr: target.expr })))
    assert.ok(queries.length >= 15)
    const empty = new Set(queries.map((query) => query.expr))
    await waitUntil(
      async () => {
        await Promise.all(
          [...empty].map(async (expr) => {
            if (((await prometheus?.query(expr)) ?? []).length > 0) empty.delete(expr)
          }),
        )
        return empty.size === 0
      },
      20_000,
      'every panel query to answer',
    ).catch(() => undefined)
    assert.deepEqual(queries.filter((query) => empty.has(query.expr)), [], 'panel queries without data')
  })

  test('promtool check metrics: nothing wrong with the service own metrics', async () => {
    const text = await (await fetch(`http://127.0.0.1:${service?.httpPort}/metrics`)).text()
    const result = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' })
    const problems = `${result.stdout}${result.stderr}`
      .split('\n')
      .filter((line) => line.trim() !== '')
      // prom-client's default metrics (process_*, nodejs_*) are not ours to rename.
      .filter((line) => !/^(process|nodejs)_/.test(line))
    assert.deepEqual(problems, [])
  })

  test('Redis gone: RedisUnavailable fires', async () => {
    await stopProcess(redis, 'SIGKILL')
    await waitUntil(async () => (await firingNames()).includes('RedisUnavailable'), 30_000, 'RedisUnavailable to fire')
    const alert = (await prometheus?.firing())?.find((firing) => firing.labels.alertname === 'RedisUnavailable')
    assert.equal(alert?.labels.severity, 'critical')
    assert.equal(alert?.labels.instance, `127.0.0.1:${service?.httpPort}`)
  })
})
