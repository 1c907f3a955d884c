// Starts the receiver child (bench/receiver.ts) and talks to it over IPC.
import { fork, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { FromReceiver, ReceiverCounts, ReceiverFinal, ResetCommand, ToReceiver } from './receiver-protocol.ts'
import { BENCH_DIR, NODE } from './paths.ts'

type Command = { type: 'reset'; reset: ResetCommand } | { type: 'counts' } | { type: 'final' } | { type: 'close' }

export class ReceiverClient {
  readonly child: ChildProcess
  readonly port: number
  /** Callback origins, e.g. http://127.0.0.2:40123 (index = origin number). */
  readonly origins: readonly string[]
  readonly #pending = new Map<number, (data: unknown) => void>()
  #nextId = 1

  private constructor(child: ChildProcess, port: number, origins: string[]) {
    this.child = child
    this.port = port
    this.origins = origins
    child.on('message', (message: FromReceiver) => {
      if (message.type !== 'reply') return
      this.#pending.get(message.id)?.(message.data)
      this.#pending.delete(message.id)
    })
  }

  /** @param latencyMs how long each origin takes to answer (0: at once) */
  /** @param extraEnv e.g. the TLS and token settings of --destination (bench/lib/destinations.ts) */
  static async start(origins: number, latencyMs = 0, extraEnv: Record<string, string> = {}): Promise<ReceiverClient> {
    const child = fork(join(BENCH_DIR, 'receiver.ts'), [], {
      execPath: NODE,
      execArgv: [],
      env: { PATH: process.env.PATH ?? '', BENCH_ORIGINS: String(origins), BENCH_RECEIVER_LATENCY_MS: String(latencyMs), ...extraEnv },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    const ready = await new Promise<Extract<FromReceiver, { type: 'ready' }>>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`receiver exited with ${code} before it was ready`)))
      child.on('message', (message: FromReceiver) => {
        if (message.type === 'ready') resolve(message)
      })
    })
    return new ReceiverClient(child, ready.port, ready.origins)
  }

  get pid(): number {
    return this.child.pid ?? 0
  }

  reset(reset: ResetCommand): Promise<void> {
    return this.#call({ type: 'reset', reset }) as Promise<void>
  }

  counts(): Promise<ReceiverCounts> {
    return this.#call({ type: 'counts' }) as Promise<ReceiverCounts>
  }

  final(): Promise<ReceiverFinal> {
    return this.#call({ type: 'final' }) as Promise<ReceiverFinal>
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = new Promise((resolve) => this.child.once('exit', resolve))
    if (this.child.connected) await Promise.race([this.#call({ type: 'close' }), exited, delay(2000)])
    if (!(await Promise.race([exited.then(() => true), delay(3000).then(() => false)]))) this.child.kill('SIGKILL')
  }

  #call(command: Command): Promise<unknown> {
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      if (!this.child.connected) return reject(new Error('the receiver is gone'))
      this.#pending.set(id, resolve)
      const message: ToReceiver = { ...command, id }
      this.child.send(message)
    })
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
