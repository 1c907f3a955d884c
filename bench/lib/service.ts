// The service under test, as a child process exactly as in production: the Dockerfile's
// command (`sh -c 'exec node $(node src/node-flags.ts) src/main.ts'`, the Node flags computed
// for the memory it may use) with its configuration in the environment, optionally inside a
// memory cgroup of its own (--memory-limit).
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NODE, ROOT } from './paths.ts'

export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise((resolve) => server.close(resolve))
  if (address === null || typeof address === 'string') throw new Error('no free port')
  return address.port
}

export interface ServiceProcess {
  readonly child: ChildProcess
  readonly pid: number
  readonly httpPort: number
  readonly logDir: string
  /** stdout and stderr of the child. */
  readonly outputFile: string
  readonly spawnedAt: number
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  isRunning(): boolean
}

/**
 * @param nodeOptions NODE_OPTIONS for the child (e.g. --cpu-prof)
 * @param nodeArgs extra arguments before src/main.ts, for flags NODE_OPTIONS refuses (e.g. --trace-gc)
 * @param heapFlags start with the flags `node src/node-flags.ts` prints (as `npm start` and the
 *   Dockerfile do); false: V8's defaults
 * @param cgroupProcs the `cgroup.procs` file of a memory cgroup: the shell writes its pid there
 *   before it computes the flags and execs node, so both run inside the group
 */
export async function spawnService(env: Record<string, string>, nodeOptions?: string, nodeArgs: readonly string[] = [], heapFlags = true, cgroupProcs?: string): Promise<ServiceProcess> {
  const logDir = mkdtempSync(join(tmpdir(), 'bench-service-logs-'))
  const httpPort = await freePort()
  const outputFile = join(logDir, 'stdout.log')
  const out = openSync(outputFile, 'a')
  const fullEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HTTP_PORT: String(httpPort),
    LOG_DIR: logDir,
    LOG_LEVEL: 'warn',
    CALLBACK_ALLOWED_NETWORKS: '127.0.0.0/8',
    ...env,
    ...(nodeOptions === undefined ? {} : { NODE_OPTIONS: nodeOptions }),
  }
  // $0 is node, "$@" the extra arguments and the entry point; exec keeps the pid (the child's) for node.
  if (cgroupProcs !== undefined && !/^[\w/.-]+$/.test(cgroupProcs)) throw new Error(`unexpected cgroup path ${cgroupProcs}`)
  const script = [cgroupProcs === undefined ? '' : `echo $$ > ${cgroupProcs} || exit 97; `, heapFlags ? 'exec "$0" $("$0" src/node-flags.ts) "$@"' : 'exec "$0" "$@"'].join('')
  const child = spawn('sh', ['-c', script, NODE, ...nodeArgs, join(ROOT, 'src/main.ts')], { cwd: ROOT, env: fullEnv, stdio: ['ignore', out, out] })
  closeSync(out)
  if (child.pid === undefined) throw new Error('could not start the service')
  let running = true
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      running = false
      resolve({ code, signal })
    }),
  )
  return { child, pid: child.pid, httpPort, logDir, outputFile, spawnedAt: Date.now(), exited, isRunning: () => running }
}

/** Waits until GET /readyz answers 200 (Redis answers, every consumer loop joined its group). */
export async function waitReady(service: ServiceProcess, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (!service.isRunning()) throw new Error(`the service exited while starting:\n${outputTail(service)}`)
    try {
      const response = await fetch(`http://127.0.0.1:${service.httpPort}/readyz`, { signal: AbortSignal.timeout(1000) })
      await response.body?.cancel()
      if (response.status === 200) return Date.now()
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`the service was not ready within ${timeoutMs} ms:\n${outputTail(service)}`)
}

/** The service's own counters (notifications_* and process metrics), summed over labels. */
export async function scrapeMetrics(service: ServiceProcess): Promise<Record<string, number>> {
  try {
    const response = await fetch(`http://127.0.0.1:${service.httpPort}/metrics`, { signal: AbortSignal.timeout(3000) })
    const text = await response.text()
    const totals: Record<string, number> = {}
    for (const line of text.split('\n')) {
      const match = /^((?:notification|infrastructure_retries)\w*|process_cpu_seconds_total|nodejs_eventloop_lag_p99_seconds|nodejs_heap_size_used_bytes|nodejs_heap_size_total_bytes|nodejs_external_memory_bytes|process_resident_memory_bytes)(?:\{[^}]*\})?\s+(\S+)$/.exec(line)
      if (match?.[1] && match[2] && !match[1].endsWith('_bucket')) totals[match[1]] = (totals[match[1]] ?? 0) + Number(match[2])
    }
    return totals
  } catch {
    return {}
  }
}

/** SIGTERM (graceful stop, writes a --cpu-prof profile), SIGKILL after the grace. */
export async function stopService(service: ServiceProcess, graceMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; killed: boolean }> {
  if (!service.isRunning()) return { ...(await service.exited), killed: false }
  service.child.kill('SIGTERM')
  const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs).unref())
  const result = await Promise.race([service.exited, timer])
  if (result !== 'timeout') return { ...result, killed: false }
  service.child.kill('SIGKILL')
  return { ...(await service.exited), killed: true }
}

export function outputTail(service: ServiceProcess, lines = 20): string {
  try {
    return readFileSync(service.outputFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return ''
  }
}

/** Log lines the service wrote (LOG_LEVEL=warn: warnings and errors), by message. */
export function logSummary(service: ServiceProcess): { lines: number; byMessage: Record<string, number> } {
  const byMessage: Record<string, number> = {}
  let lines = 0
  let text: string
  try {
    text = readFileSync(service.outputFile, 'utf8')
  } catch {
    return { lines, byMessage }
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue
    lines++
    let message = line.slice(0, 120)
    try {
      const parsed = JSON.parse(line) as { msg?: unknown; level?: unknown }
      if (typeof parsed.msg === 'string') message = `${String(parsed.level)}: ${parsed.msg}`
    } catch {
      // not a log line
    }
    byMessage[message] = (byMessage[message] ?? 0) + 1
  }
  return { lines, byMessage }
}
