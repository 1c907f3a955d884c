// Starts real instances of the service (in this process, or as a child process for crash
// tests) against the real broker and Redis, with unique topics and quick retries.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp, type App, type AppOptions } from '../../src/app.ts'
import type { KafkaConnection } from '../../src/kafka/connection.ts'
import { loadConfig, type Tuning } from '../../src/config.ts'
import { SERVICE_NODE_FLAGS } from '../../src/node-flags.ts'
import { createLogger } from '../../src/log.ts'
import { parseDuration } from '../../src/lib/duration.ts'
import { retryTiers } from '../../src/names.ts'
import { startTelemetry } from '../../src/telemetry/telemetry.ts'
import { BROKERS, waitForCommitted, type TestTopics } from './kafka.ts'

export const ROOT = new URL('../..', import.meta.url).pathname

/** Environment for a test instance: local services, loopback callbacks allowed, fast retries. */
export function testEnv(topics: TestTopics, extra: Record<string, string> = {}): Record<string, string> {
  return {
    MODE: 'TEST',
    KAFKA_BOOTSTRAP_SERVERS: BROKERS.join(','),
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    HTTP_PORT: '0',
    CALLBACK_ALLOWED_NETWORKS: '127.0.0.0/8,::1/128',
    RETRY_SCHEDULE: '100ms,200ms,300ms',
    CALLBACK_TIMEOUT_MS: '2000',
    LOG_DIR: mkdtempSync(join(tmpdir(), 'notification-logs-')),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
    ...topics,
    ...extra,
  }
}

export interface RunningService {
  app: App
  close(): Promise<void>
}

export async function startService(env: Record<string, string>, options: AppOptions & { tuning?: Partial<Tuning> } = {}): Promise<RunningService> {
  const config = loadConfig(env, options.tuning)
  const { logger, close: closeLogs } = createLogger({ level: config.logLevel, dir: config.logDir, stdout: process.env.TEST_LOG_LEVEL !== undefined })
  const telemetry = await startTelemetry(config.tracing, logger)
  const app = createApp(config, logger, { defaultMetrics: false, retryPolicy: { slowDownFloorMs: 200 }, telemetry, ...options })
  // start() waits for Kafka and Redis as long as needed; a test must not. A start that fails
  // still leaves the HTTP server and clients open: close them, or the test process never exits.
  try {
    await Promise.race([app.start(), new Promise((_, reject) => setTimeout(() => reject(new Error('service did not start within 60 s')), 60_000).unref())])
  } catch (error) {
    await app.close().catch(() => undefined)
    await closeLogs()
    throw error
  }
  await waitUntil(async () => (await app.readiness()).ready, 30_000, 'service ready')
  return {
    app,
    async close() {
      await app.close()
      await closeLogs()
    },
  }
}

/** The real entry point (`node <flags> src/main.ts`, as `npm start`) as a child process, for kill -9 and signal tests. */
export function spawnService(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(ROOT, 'src/main.ts')], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
}

/**
 * A TCP port the OS has just handed out and released, for a process that cannot tell which
 * port it got when given 0 (redis-server, a Kafka broker, the service as a child process).
 */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

export type Child = ChildProcess & { readonly httpPort: number }

/**
 * The entry point as a child process on a port from the OS, once its /readyz answers 200.
 * Should another process take that port between `freePort()` and the child's listen, the
 * child exits at start-up and is started again on another port.
 */
export async function readyChild(env: Record<string, string>): Promise<Child> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const child = spawnService({ ...env, HTTP_PORT: String(port) })
    child.stdout?.resume()
    child.stderr?.resume()
    const exited = once(child, 'exit').then(() => true)
    const ready = waitUntil(async () => child.exitCode !== null || (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 60_000, 'child ready')
    await Promise.race([ready, exited])
    if (child.exitCode === null && child.signalCode === null) return Object.assign(child, { httpPort: port })
    if (attempt === 3) throw new Error(`the service exited at start-up (code ${child.exitCode}) three times`)
  }
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await condition()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/** Metric value from the instance's registry (sum over labels matching `labels`). */
export async function metricValue(app: App, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = await app.metrics.registry.getSingleMetric(name)?.get()
  if (!metric) return 0
  return metric.values
    .filter((value) => Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected))
    .reduce((sum, value) => sum + value.value, 0)
}

/**
 * Resolves once the instance(s) of `env` committed every record of the input topics and of
 * every retry tier: each record reached a durable end, so nothing of it can still be POSTed.
 * `connection`: how to reach the brokers when not plaintext at KAFKA_BOOTSTRAP_SERVERS (the cluster tests).
 */
export async function allCommitted(env: Record<string, string>, timeoutMs = 60_000, connection?: KafkaConnection): Promise<void> {
  const topics = env as unknown as TestTopics
  const kafka = connection ?? env.KAFKA_BOOTSTRAP_SERVERS?.split(',') ?? BROKERS
  // In flow order: a record reaches a tier only from the input or an earlier tier, before that one commits it.
  await waitForCommitted(topics.KAFKA_GROUP_ID, [topics.KAFKA_TOPIC_FOR_SENDING, topics.KAFKA_TOPIC_FOR_AI_HANDLER], timeoutMs, kafka)
  for (const tier of retryTiers(topics.KAFKA_GROUP_ID, (env.RETRY_SCHEDULE ?? '').split(',').map((delay) => parseDuration(delay) ?? 0))) await waitForCommitted(tier.groupId, [tier.topic], timeoutMs, kafka)
}
