// Processes the fault script starts and stops: replicas of the service (`node src/main.ts`),
// its own Redis (with AOF persistence), and the local Kafka broker through scripts/kafka.sh.
// Every child is registered so that an exit or Ctrl-C stops it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createWriteStream, existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { SERVICE_NODE_FLAGS } from '../../src/node-flags.ts'

export const ROOT = new URL('../..', import.meta.url).pathname

const children = new Set<ChildProcess>()

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Synchronous last resort (process 'exit'): SIGKILL every child still running. */
export function killAllChildrenNow(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
}

/**
 * A port for a replica's HTTP server, free now and outside the kernel's ephemeral range
 * (32768–60999 by default): a port from that range, found free and closed again, can be taken
 * as the local end of any outgoing connection before the replica listens on it, and was (the
 * soak, run 14: two restarted replicas exited on EADDRINUSE). Ports below the range are only
 * ever taken by a listener asking for them; they are handed out in turn, from a random start,
 * in a stretch none of the project's fixed ports is in (brokers 19xxx and 29xxx, Redis 27xxx
 * and 26379: a Redis restarted by the nemesis must find its port free).
 */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = LISTEN_PORTS.from + (nextListenPort++ % (LISTEN_PORTS.to - LISTEN_PORTS.from))
    if (await canListen(port)) return port
  }
  throw new Error(`no free port in ${LISTEN_PORTS.from}–${LISTEN_PORTS.to} after 100 tries`)
}

const LISTEN_PORTS = { from: 13_000, to: 15_000 }
let nextListenPort = Math.floor(Math.random() * (LISTEN_PORTS.to - LISTEN_PORTS.from))

async function canListen(port: number): Promise<boolean> {
  const server = createServer()
  server.listen(port, '127.0.0.1')
  const listening = await Promise.race([once(server, 'listening').then(() => true), once(server, 'error').then(() => false)])
  if (listening) await new Promise<void>((resolve) => server.close(() => resolve()))
  return listening
}

// ------------------------------------------------------------------ service ---

let replicaSerial = 0

export interface ExitInfo {
  code: number | null
  signal: NodeJS.Signals | null
}

export class Replica {
  readonly name: string
  readonly port: number
  readonly child: ChildProcess
  readonly exited: Promise<ExitInfo>
  readonly logFile: string
  /** Set by us before we signal it: an exit without it is unexpected. */
  expectedExit = false
  /** It answered /readyz 200 at least once. */
  wasReady = false
  stderrTail = ''

  private constructor(name: string, port: number, child: ChildProcess, logFile: string) {
    this.name = name
    this.port = port
    this.child = child
    this.logFile = logFile
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  }

  /**
   * `ownGroup`: the replica leads a process group of its own, so that a SIGSTOP sent to it
   * cannot turn into a SIGHUP when the launching shell's job ends meanwhile (the kernel hangs
   * up a stopped process whose group becomes orphaned); it is still killed when we exit.
   */
  static async start(env: Record<string, string>, logDir: string, ownGroup = false): Promise<Replica> {
    const port = await freePort()
    const name = `replica#${++replicaSerial}`
    const logFile = join(logDir, `${name.replace('#', '-')}.out`)
    const out = createWriteStream(logFile, { flags: 'a' })
    // with the heap flags `npm start` gives it (V8's defaults let a replica's heap grow for many minutes)
    const child = spawn(process.execPath, [...SERVICE_NODE_FLAGS, join(ROOT, 'src/main.ts')], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, HTTP_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: ownGroup,
    })
    children.add(child)
    const replica = new Replica(name, port, child, logFile)
    child.stdout?.pipe(out, { end: false })
    child.stderr?.on('data', (chunk: Buffer) => {
      out.write(chunk)
      replica.stderrTail = (replica.stderrTail + chunk.toString('utf8')).slice(-2000)
    })
    child.once('exit', () => {
      children.delete(child)
      setTimeout(() => out.end(), 100)
    })
    return replica
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  async isReady(): Promise<boolean> {
    const response = await fetch(`http://127.0.0.1:${this.port}/readyz`, { signal: AbortSignal.timeout(2000) }).catch(() => undefined)
    await response?.body?.cancel()
    return response?.status === 200
  }

  /** Resolves once /readyz answers 200; rejects when the process exits or the time is up. */
  async waitReady(timeoutMs = 120_000, signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      if (signal?.aborted) throw new Error('interrupted')
      if (!this.running) throw new Error(`${this.name} exited before it was ready: ${this.firstError()}`)
      if (await this.isReady()) {
        this.wasReady = true
        return
      }
      await sleep(200)
    }
    throw new Error(`${this.name} not ready after ${timeoutMs} ms`)
  }

  /** The first error line it printed (or its last line). */
  firstError(): string {
    const lines = this.stderrTail.split('\n').map((l) => l.trim()).filter(Boolean)
    return (lines.find((l) => /Error\b/.test(l)) ?? lines.at(-1) ?? '').slice(0, 200)
  }

  kill9(): void {
    this.expectedExit = true
    this.child.kill('SIGKILL')
  }

  /** SIGSTOP: the process keeps its sockets but runs no code until thaw(). */
  freeze(): void {
    this.child.kill('SIGSTOP')
  }

  thaw(): void {
    this.child.kill('SIGCONT')
  }

  /** Resident set size in KiB from /proc (undefined once it is gone). */
  rssKiB(): number | undefined {
    try {
      const match = /^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))
      return match ? Number(match[1]) : undefined
    } catch {
      return undefined
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 45_000): Promise<ExitInfo> {
    if (!this.running) return this.exited
    this.expectedExit = true
    this.child.kill('SIGTERM')
    this.child.kill('SIGCONT') // a frozen replica acts on the SIGTERM only once it runs again
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    const info = await this.exited
    clearTimeout(timer)
    return info
  }
}

// -------------------------------------------------------------------- redis ---

export class OwnRedis {
  readonly port: number
  readonly dir: string

  constructor(port: number, dir: string) {
    this.port = port
    this.dir = dir
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  ping(): boolean {
    const result = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), 'ping'], { encoding: 'utf8', timeout: 3000 })
    return result.stdout?.trim() === 'PONG'
  }

  async start(): Promise<void> {
    const result = spawnSync(
      'redis-server',
      [
        '--port', String(this.port), '--bind', '127.0.0.1',
        '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
        '--dir', this.dir, '--daemonize', 'yes',
        '--pidfile', join(this.dir, 'redis.pid'), '--logfile', join(this.dir, 'redis.log'),
      ],
      { encoding: 'utf8', timeout: 10_000 },
    )
    if (result.status !== 0) throw new Error(`redis-server failed to start: ${result.stderr || result.stdout}`)
    const deadline = Date.now() + 20_000
    while (Date.now() < deadline) {
      if (this.ping()) return
      await sleep(100)
    }
    throw new Error(`Redis on ${this.port} did not answer within 20 s (see ${join(this.dir, 'redis.log')})`)
  }

  /** SHUTDOWN (the AOF keeps the data), and wait until it no longer answers. */
  async shutdown(save = true): Promise<void> {
    const pid = this.pid()
    spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), 'shutdown', ...(save ? [] : ['nosave'])], { timeout: 10_000 })
    const deadline = Date.now() + 15_000
    while (Date.now() < deadline && (this.ping() || (pid !== undefined && alive(pid)))) await sleep(100)
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL')
  }

  pid(): number | undefined {
    const file = join(this.dir, 'redis.pid')
    if (!existsSync(file)) return undefined
    const pid = Number(readFileSync(file, 'utf8').trim())
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  }

  /** Synchronous last resort for process 'exit'. */
  killNow(): void {
    const pid = this.pid()
    if (pid !== undefined && alive(pid)) {
      try {
        process.kill(pid, 'SIGTERM')
      } catch {
        // gone already
      }
    }
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// -------------------------------------------------------------------- kafka ---

/** Runs `bash scripts/kafka.sh <command>`; resolves with its exit code and output. */
export async function kafkaSh(command: 'start' | 'stop' | 'status'): Promise<{ code: number; output: string }> {
  // its own process group: a Ctrl-C must not interrupt a broker start or stop halfway
  const child = spawn('bash', [join(ROOT, 'scripts/kafka.sh'), command], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  let output = ''
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')))
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code: code ?? 1, output: output.trim() }
}

export async function ensureBrokerRunning(): Promise<string | undefined> {
  if ((await kafkaSh('status')).code === 0) return undefined
  const { code, output } = await kafkaSh('start')
  if (code !== 0) throw new Error(`kafka.sh start failed: ${output}`)
  return output
}
