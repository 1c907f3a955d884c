// A Kafka broker of the test's own (scripts/kafka.sh with its own KAFKA_DIR and ports), for
// tests that stop and start a broker: the shared one on 9092 serves other checkouts too.
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT, freePort } from './service.ts'

export interface PrivateBroker {
  readonly brokers: string[]
  start(): Promise<void>
  stop(): Promise<void>
  /** Stops it and deletes its directory. */
  remove(): Promise<void>
}

/**
 * The jars, used read-only: KAFKA_LIBS, else this checkout's .kafka/libs, else those of the
 * repository's main worktree (where `npm run kafka` fetched them); fetched into this
 * checkout only when none of these exists.
 */
function kafkaLibs(): string {
  if (process.env.KAFKA_LIBS) return process.env.KAFKA_LIBS
  const own = join(ROOT, '.kafka/libs')
  if (existsSync(join(own, '.pom-sha256'))) return own
  try {
    const common = execFileSync('git', ['rev-parse', '--path-format=absolute', '--git-common-dir'], { cwd: ROOT, encoding: 'utf8' }).trim()
    const main = join(dirname(common), '.kafka/libs')
    if (existsSync(join(main, '.pom-sha256'))) return main
  } catch {
    // not a git checkout
  }
  execFileSync('bash', [join(ROOT, 'scripts/kafka.sh'), 'fetch'], { stdio: 'ignore' })
  return own
}

export async function createPrivateBroker(): Promise<PrivateBroker> {
  const dir = mkdtempSync(join(tmpdir(), 'kafka-private-'))
  const port = await freePort()
  const controllerPort = await freePort()
  const env = {
    ...process.env,
    KAFKA_DIR: dir,
    KAFKA_LIBS: kafkaLibs(),
    KAFKA_PORT: String(port),
    KAFKA_CONTROLLER_PORT: String(controllerPort),
    // Two cores shared with other developers' tests: a start can take a while.
    KAFKA_START_TIMEOUT: '150',
  }
  // Asynchronous on purpose: a service may run in this process, and a blocked event loop
  // would turn answers already sent to it into client-side timeouts.
  const kafka = (command: 'start' | 'stop') => promisify(execFile)('bash', [join(ROOT, 'scripts/kafka.sh'), command], { env, timeout: 180_000 })
  return {
    brokers: [`127.0.0.1:${port}`],
    async start() {
      await kafka('start')
    },
    async stop() {
      await kafka('stop')
    },
    async remove() {
      try {
        await kafka('stop')
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}
