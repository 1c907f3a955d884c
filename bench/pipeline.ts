// `node bench/pipeline.ts [--records N]`: the service's own code alone, in this process:
// the input processor of src/pipeline (classify, build, admit, claim, attempt, settle,
// carry out) for bench records, with Redis, Kafka and HTTP replaced by stand-ins that answer
// at once (batched like the real ones: claims and settlements per turn, Kafka records
// within 2 ms; the HTTP answer on the next turn). Prints the bytes allocated (garbage
// included, from v8.GCProfiler as bench/lib/alloc-probe.ts) and the CPU per record: what
// this project's code costs, apart from undici, ioredis and the Kafka client.
import { parseArgs } from 'node:util'
import { GCProfiler, getHeapStatistics } from 'node:v8'
import { loadConfig } from '../src/config.ts'
import { ActivityLog } from '../src/dashboard/activity.ts'
import { OriginAdmission } from '../src/delivery/origin-admission.ts'
import { OriginGate } from '../src/delivery/origin-gate.ts'
import { DEFAULT_JITTER, DEFAULT_SLOW_DOWN_FLOOR_MS } from '../src/delivery/retry-policy.ts'
import { originOf } from '../src/delivery/http-client.ts'
import type { AttemptOutcome, Transport } from '../src/delivery/transport.ts'
import type { InputRecord } from '../src/kafka/consumer-loop.ts'
import { OutsideWaits } from '../src/kafka/in-flight-limit.ts'
import { KeyedSerializer } from '../src/kafka/keyed-serializer.ts'
import type { Publisher } from '../src/kafka/publisher.ts'
import { MicroBatcher } from '../src/lib/micro-batcher.ts'
import { createLogger } from '../src/log.ts'
import { createMetrics } from '../src/metrics.ts'
import { retryTiers } from '../src/names.ts'
import type { PipelineContext } from '../src/pipeline/context.ts'
import { inputProcessor } from '../src/pipeline/intake.ts'
import type { OriginControls } from '../src/origins/origin-controls.ts'
import type { ClaimResult, NotificationStore } from '../src/store/notification-store.ts'
import { untraced } from '../src/telemetry/telemetry.ts'
import { RESULT_KEY, resultJson } from './lib/messages.ts'

const { values: args } = parseArgs({ options: { records: { type: 'string', default: '200000' } } })
const RECORDS = Number(args.records)
/** Records handed to the pipeline at once, as a fetch does (the service keeps up to 1,000 in flight). */
const BURST = 1000
const WARM_UP_BURSTS = 50
/** As src/app.ts derives it from CALLBACK_TIMEOUT_MS's default. */
const TIMING = { attemptMs: 10_000, claimMs: 25_000 }

const claims = new MicroBatcher<unknown, ClaimResult>((items) => Promise.resolve(items.map(() => ({ status: 'claimed', token: 'token' }) as const)), { maxBatch: 500 })
/** Each settlement stands (none was settled by another copy first), as the settle script answers. */
const settlements = new MicroBatcher<unknown, boolean>((items) => Promise.resolve(items.map(() => true)), { maxBatch: 500 })
const produced = new MicroBatcher<string, void>((items) => Promise.resolve(items.map(() => undefined)), { maxBatch: 500, lingerMs: 2 })
const OK: AttemptOutcome = { ok: true, answer: 'success', statusCode: 200, durationMs: 1 }

// Stand-ins for the adapters: only what the pipeline calls on the way to "delivered".
const store = { claim: (kind: string, id: number) => claims.add([kind, id]), saveSettlement: (settlement: unknown) => settlements.add(settlement) } as unknown as NotificationStore
const publisher = { outcome: (outcome: unknown) => produced.add(JSON.stringify(outcome)) } as unknown as Publisher
const transport: Transport = { attemptName: 'POST', destinationOf: (notification) => originOf(notification.callbackUrl), send: () => new Promise((resolve) => setImmediate(resolve, OK)), close: () => Promise.resolve() }
const ctx: PipelineContext = {
  store,
  transport,
  publisher,
  admission: new OriginAdmission(new OriginGate()),
  // No pause, hold or rate limit: the hot path's one look at the shared origin state.
  origins: { standing: () => ({ kind: 'open' }), rateLimitFor: () => undefined } as unknown as OriginControls,
  tracing: untraced(loadConfig({}).tracing).tracing,
  metrics: createMetrics({ defaultMetrics: false, sources: { inFlight: () => [], lag: () => [], circuits: () => [], concurrencyLimits: () => [] } }),
  logger: createLogger({ level: 'warn', dir: undefined }).logger,
  activity: new ActivityLog(),
  schedule: { policy: { scheduleMs: [5000, 30_000], jitter: DEFAULT_JITTER, slowDownFloorMs: DEFAULT_SLOW_DOWN_FLOOR_MS }, tiers: retryTiers('bench', [5000, 30_000]) },
  topics: { input: [{ name: 'sending', key: 'new_sending' }, { name: 'AI_handler', key: 'new_request' }], deadLetter: 'dlq', outcomes: 'notifications' },
  notifyOnAccepted: false,
  timing: () => TIMING,
  infrastructureRetryMs: 1000,
}
const processor = inputProcessor(ctx)
const serializer = new KeyedSerializer<string>()
const signal = new AbortController().signal
const NO_HEADERS: ReadonlyMap<string, string> = new Map()
const base = Date.now() * 1000
const values = Array.from({ length: BURST }, (_, i) => Buffer.from(resultJson(base + i, `http://127.0.0.${2 + (i % 20)}:4000/hook`, Date.now())))

/** One burst of records through the pipeline, as the consumer loop runs them (per-key order included). */
async function burst(firstOffset: number): Promise<void> {
  const works: Array<Promise<void>> = []
  for (let i = 0; i < BURST; i++) {
    const record: InputRecord = { topic: 'sending', partition: 0, offset: BigInt(firstOffset + i), key: RESULT_KEY, value: values[i]!, timestamp: 0n, headers: NO_HEADERS }
    const prepared = processor.prepare(record)
    const waits = new OutsideWaits()
    works.push(prepared.key === undefined ? prepared.run(signal, waits) : serializer.run(prepared.key, () => prepared.run(signal, waits)))
  }
  await Promise.all(works)
}

for (let i = 0; i < WARM_UP_BURSTS; i++) await burst(i * BURST)
const bursts = Math.max(1, Math.round(RECORDS / BURST))
const profiler = new GCProfiler()
const usedAtStart = getHeapStatistics().used_heap_size
profiler.start()
const cpuAtStart = process.cpuUsage()
for (let i = 0; i < bursts; i++) await burst((WARM_UP_BURSTS + i) * BURST)
const cpu = process.cpuUsage(cpuAtStart)
const usedAtEnd = getHeapStatistics().used_heap_size
let allocated = 0
let previous = usedAtStart
for (const gc of profiler.stop().statistics) {
  allocated += gc.beforeGC.heapStatistics.usedHeapSize - previous
  previous = gc.afterGC.heapStatistics.usedHeapSize
}
allocated += usedAtEnd - previous
const records = bursts * BURST
process.stdout.write(`pipeline alone, ${records} records: ${(allocated / records / 1024).toFixed(2)} KiB allocated and ${((cpu.user + cpu.system) / records).toFixed(1)} µs CPU per record\n`)
