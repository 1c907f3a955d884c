// Starts real instances of the service (in this process, or as a child process for crash
// tests) against the real broker and Redis, with unique topics and quick retries.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp, type App, type AppOptions } from '../../src/app.ts'
import { loadConfig, type Tuning } from '../../src/config.ts'
import { SERVICE_NODE_FLAGS } from '../../src/node-flags.ts'
import { createLogger } from '../../src/log.ts'
import { BROKERS, type TestTopics } from './kafka.ts'

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
  const app = createApp(config, logger, { defaultMetrics: false, retryPolicy: { slowDownFloorMs: 200 }, ...options })
  // start() waits for Kafka and Redis as long as needed; a test must not.
  await Promise.race([app.start(), new Promise((_, reject) => setTimeout(() => reject(new Error('service did not start within 60 s')), 60_000).unref())])
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

/** The entry point as a child process on `port`, once its /readyz answers 200. */
export async function readyChild(env: Record<string, string>, port: number): Promise<ChildProcess> {
  const child = spawnService({ ...env, HTTP_PORT: String(port) })
  child.stdout?.resume()
  child.stderr?.resume()
  await waitUntil(async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 60_000, 'child ready')
  return child
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
