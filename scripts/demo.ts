// The quick-start demo: a local receiver prints what the service POSTs to it, the service
// runs as `npm start` would (real Kafka, real Redis), and three sample results are produced:
// a success, a rate-limit error and a server error.
//   node scripts/demo.ts [--once]     --once: exit after the three notifications
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Producer, stringSerializers } from '@platformatic/kafka'
import { SERVICE_NODE_FLAGS } from '../src/node-flags.ts'

const once = process.argv.includes('--once')
const brokers = (process.env.KAFKA_BOOTSTRAP_SERVERS ?? '127.0.0.1:9092').split(',')
const httpPort = process.env.HTTP_PORT ?? '8004'
const run = Date.now()
// The dashboard needs a token; the demo makes one unless ADMIN_TOKEN is set.
const adminToken = process.env.ADMIN_TOKEN ?? `demo-${randomBytes(12).toString('hex')}`

const expected = 3
let received = 0
const receiver = createServer((request, response) => {
  let body = ''
  request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
  request.on('end', () => {
    received++
    const error = request.headers['x-error-notification'] === 'true' ? '  (X-Error-Notification: true)' : ''
    console.log(`\n<<< receiver got POST ${request.url}  webhook-id: ${String(request.headers['webhook-id'])}${error}`)
    console.log(JSON.stringify(JSON.parse(body), null, 2))
    response.writeHead(200).end()
    if (once && received >= expected) void stop(0)
  })
})
receiver.listen(Number(process.env.DEMO_RECEIVER_PORT ?? 0), '127.0.0.1')
await new Promise((resolve) => receiver.once('listening', resolve))
const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`
console.log(`demo receiver listening at ${hook}`)

console.log('starting the service (npm start); its JSON logs go to logs/notification_service.log')
const service = spawn(process.execPath, [...SERVICE_NODE_FLAGS, 'src/main.ts'], {
  env: { ...process.env, CALLBACK_ALLOWED_NETWORKS: process.env.CALLBACK_ALLOWED_NETWORKS ?? '127.0.0.0/8', HTTP_PORT: httpPort, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ADMIN_TOKEN: adminToken },
  stdio: ['ignore', 'inherit', 'inherit'],
})
service.on('exit', (code) => {
  if (!stopping) {
    console.error(`the service exited with code ${code}`)
    process.exit(1)
  }
})

await waitForReady(`http://127.0.0.1:${httpPort}/readyz`)
console.log(`service ready: http://127.0.0.1:${httpPort}/readyz answers 200`)
console.log(`dashboard: http://127.0.0.1:${httpPort}/dashboard  (admin token: ${adminToken})`)

const producer = new Producer({ clientId: 'demo-producer', bootstrapBrokers: brokers, serializers: stringSerializers })
const samples = [
  { success: true, response: { callback_url: hook, processing_id: run, user_id: 2, resume_id: 3, requirements_id: 4, score: 87, matches: ['Python', 'SQL'], recommendation: 'Invite to an interview', verdict: 'Strong match' }, message_error: null, wait_seconds: null },
  { success: false, response: { callback_url: hook, processing_id: run + 1 }, message_error: 'AI provider rate limit', wait_seconds: 30 },
  { success: false, response: { callback_url: hook, processing_id: run + 2 }, message_error: 'Model returned an invalid answer', wait_seconds: null },
]
await producer.send({ messages: samples.map((value) => ({ topic: process.env.KAFKA_TOPIC_FOR_SENDING ?? 'sending', key: 'new_sending', value: JSON.stringify(value) })) })
await producer.close()
console.log(`>>> produced ${samples.length} results to Kafka topic "${process.env.KAFKA_TOPIC_FOR_SENDING ?? 'sending'}" (key new_sending)`)
if (!once) console.log('(Ctrl-C to stop; produce more results to see them arrive)')

const timeout = setTimeout(() => {
  console.error(`only ${received} of ${expected} notifications arrived within 60 s`)
  void stop(1)
}, 60_000)
if (!once) clearTimeout(timeout)
process.on('SIGINT', () => void stop(0))
process.on('SIGTERM', () => void stop(0))

let stopping = false
async function stop(code: number): Promise<void> {
  if (stopping) return
  stopping = true
  clearTimeout(timeout)
  service.kill('SIGTERM')
  await new Promise((resolve) => service.once('exit', resolve))
  receiver.close()
  console.log(`\nservice stopped; ${received} notification(s) received`)
  process.exit(code)
}

async function waitForReady(url: string): Promise<void> {
  for (let i = 0; i < 120; i++) {
    const status = await fetch(url).then((r) => r.status, () => 0)
    if (status === 200) return
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
  throw new Error(`${url} did not answer 200 within 60 s`)
}
