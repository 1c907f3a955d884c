// A real HTTP CONNECT proxy for tests: Debian's tinyproxy (scripts/tinyproxy.sh ensure
// installs it), started as a child of the test with its own config on a free port. Its log
// names every CONNECT target, so a test can tell what the proxy was asked for.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from './service.ts'

export interface Tinyproxy {
  readonly port: number
  /** http://127.0.0.1:<port> */
  readonly url: string
  /** The targets of the CONNECT requests it received so far, in order ("127.0.0.1:4711"). */
  connects(): string[]
  /** Every request line it logged (CONNECT or not). */
  requests(): string[]
  close(): Promise<void>
}

const TINYPROXY = process.env.TINYPROXY_PATH ?? '/usr/bin/tinyproxy'

/** `config`: extra tinyproxy directives, e.g. `ConnectPort 1` or `BasicAuth user secret`. */
export async function startTinyproxy(config: readonly string[] = []): Promise<Tinyproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'tinyproxy-'))
  const logFile = join(dir, 'tinyproxy.log')
  writeFileSync(logFile, '')
  const port = await freePort()
  const conf = join(dir, 'tinyproxy.conf')
  writeFileSync(conf, [`Port ${port}`, 'Listen 127.0.0.1', 'Timeout 30', `LogFile "${logFile}"`, 'LogLevel Connect', 'MaxClients 100', 'Allow 127.0.0.1', ...config, ''].join('\n'))
  const child: ChildProcess = spawn(TINYPROXY, ['-d', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = once(child, 'exit')
  const deadline = Date.now() + 5000
  while (!(await accepts(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill()
      throw new Error(`tinyproxy did not listen on ${port}: ${stderr || readFileSync(logFile, 'utf8')}`)
    }
    await sleep(20)
  }
  const requests = (): string[] =>
    readFileSync(logFile, 'utf8')
      .split('\n')
      .flatMap((line) => /Request \(file descriptor \d+\): (.*)$/.exec(line)?.[1] ?? [])
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    requests,
    connects: () => requests().flatMap((line) => /^CONNECT (\S+) HTTP/.exec(line)?.[1] ?? []),
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

async function accepts(port: number): Promise<boolean> {
  const socket = connect(port, '127.0.0.1')
  try {
    await once(socket, 'connect')
    return true
  } catch {
    return false
  } finally {
    socket.destroy()
  }
}
