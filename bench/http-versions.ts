// Does HTTP/2 cost the sender less CPU per callback than HTTP/1.1 keep-alive? (issue 22 asked
// for HTTP/2 "where an origin offers it", for several requests in one write.) A bare undici
// Agent POSTs the bench's notification bodies through dispatch() (as the service does) to two
// local receivers, each its own child process: node:http (HTTP/1.1, 64 connections) and
// node:http2 in cleartext (h2c, one connection, `--concurrency` streams). Rounds alternate
// between the two; each prints requests/s and the client's CPU per request (user + system,
// process.cpuUsage). TLS is left out on purpose: it costs both the same per byte.
//   node bench/http-versions.ts [--n 100000] [--rounds 3] [--concurrency 64]
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { createServer as createHttp1Server } from 'node:http'
import { createServer as createHttp2Server } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { parseArgs } from 'node:util'
import { Agent } from 'undici'
import { post } from './lib/http-ceiling.ts'
import { notificationJson } from './lib/messages.ts'

type Version = 'h1' | 'h2c'

if (process.argv[2] === '--serve') serve(process.argv[3] as Version)
else await main()

/** What both versions' request and response offer the receiver. */
interface Exchange {
  request: { resume(): unknown; on(event: 'end', listener: () => void): unknown }
  response: { statusCode: number; setHeader(name: string, value: string): unknown; end(): unknown }
}

/** 200 with an empty body once the request's body has been read. */
function answer(request: Exchange['request'], response: Exchange['response']): void {
  request.resume()
  request.on('end', () => {
    response.statusCode = 200
    response.setHeader('content-length', '0')
    response.end()
  })
}

function serve(version: Version): void {
  const server = version === 'h1' ? createHttp1Server({ keepAliveTimeout: 30_000 }, answer) : createHttp2Server({ settings: { maxConcurrentStreams: 1000 } }, answer)
  server.listen(0, '127.0.0.1', () => process.send?.((server.address() as AddressInfo).port))
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { n: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '3' }, concurrency: { type: 'string', default: '64' } } })
  const n = Number(values.n)
  const concurrency = Number(values.concurrency)
  const receivers = new Map<Version, { child: ChildProcess; port: number }>()
  for (const version of ['h1', 'h2c'] as const) {
    const child = fork(import.meta.filename, ['--serve', version])
    const [port] = (await once(child, 'message')) as [number]
    receivers.set(version, { child, port })
  }
  try {
    for (let round = 1; round <= Number(values.rounds); round++) {
      for (const [version, { port }] of receivers) {
        const agent = version === 'h1' ? new Agent({ connections: concurrency }) : new Agent({ allowH2: true, h2Options: { useH2c: true }, connections: 1, pipelining: concurrency })
        const origin = `http://127.0.0.1:${port}`
        await postMany(agent, origin, Math.min(n, 20_000), concurrency) // warm-up: connections, JIT
        const cpu = process.cpuUsage()
        const started = performance.now()
        await postMany(agent, origin, n, concurrency)
        const { user, system } = process.cpuUsage(cpu)
        const seconds = (performance.now() - started) / 1000
        console.log(`round ${round} ${version.padEnd(3)} ${Math.round(n / seconds).toLocaleString('en-US').padStart(7)} req/s, client CPU per request ${((user + system) / n / 1000).toFixed(4)} ms (user ${(user / n / 1000).toFixed(4)}, system ${(system / n / 1000).toFixed(4)})`)
        await agent.close()
      }
    }
  } finally {
    for (const { child } of receivers.values()) child.kill()
  }
}

async function postMany(agent: Agent, origin: string, n: number, concurrency: number): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) {
      const body = notificationJson(next++, Date.now())
      const status = await post(agent, { origin, path: '/hook', method: 'POST', headers: { 'content-type': 'application/json' }, body })
      if (status !== 200) throw new Error(status === 0 ? 'no answer from the receiver' : `receiver answered ${status}`)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}
