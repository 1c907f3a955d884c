// Command-line settings of `npm run bench`. Everything that shapes a run is here, so it is
// written, as is, into the result JSON.
import { parseArgs } from 'node:util'
import { DEFAULT_MAX_CONNECTIONS_PER_ORIGIN, DEFAULT_TUNING } from '../../src/config.ts'
import { DESTINATION_MODES, type DestinationMode } from './destinations.ts'

export const MODES = ['throughput', 'steady', 'backlog', 'slow'] as const
export type Mode = (typeof MODES)[number]

export interface Settings {
  mode: Mode
  /** Results produced (steady: rate × duration). */
  n: number
  /** steady: results per second produced. */
  rate: number
  /** steady: seconds of producing. */
  durationS: number
  /** throughput/slow: produce all results before starting the service, or once it is ready. */
  produce: 'before' | 'during'
  /** Distinct callback origins (127.0.0.2 … 127.0.0.{1+origins}). */
  origins: number
  /** The receiver answers each POST after this many ms (a timer per request: answers do not wait for each other). */
  receiverLatencyMs: number
  partitions: number
  /** Service processes in the one consumer group (each its own process, as replicas in production). */
  replicas: number
  /** Messages per producer.send(). */
  batchSize: number
  /** producer.send() calls in flight at once. */
  sendsInFlight: number
  /** CALLBACK_TIMEOUT_MS given to the service. */
  callbackTimeoutMs: number
  /** slow: index (0-based) of the origin that never answers. */
  hangOrigin: number
  /** slow: delivered/s of a normal run to compare with; measured in the same invocation when absent. */
  baselineRate: number | undefined
  /** throughput: also measure the bare-consumer and bare-HTTP ceilings. */
  ceilings: boolean
  /** HTTP ceiling: requests in flight at once (default: the service's maxInFlight). */
  ceilingConcurrency: number
  /** HTTP ceiling: connections per origin (default: the service's cap, CALLBACK_MAX_CONNECTIONS_PER_ORIGIN's default). */
  ceilingConnections: number
  /** Give up when no delivery was seen for this long. */
  stallS: number
  sampleMs: number
  /** Pass --cpu-prof to the service child and summarise its profile. */
  profile: boolean
  /** Preload bench/lib/wait-probe.ts in the service: what records in flight wait on, every 100 ms. */
  waits: boolean
  /** Run V8's sampling heap profiler in the service (collected objects included) and summarise who allocated. */
  allocProfile: boolean
  brokers: string[]
  /** Extra environment for the service (--env KEY=VALUE, repeatable). */
  extraEnv: Record<string, string>
  /** Extra Node arguments for the service (--node-arg ARG, repeatable), e.g. --trace-gc. */
  nodeArgs: string[]
  /** Start the service without its heap flags (src/node-flags.ts): V8's defaults. */
  v8Defaults: boolean
  /** Run the service in a memory cgroup of its own with this limit (MiB). */
  memoryLimitMb: number | undefined
  /** Preload bench/lib/memory-probe.ts in the service: heap spaces and smaps_rollup every 500 ms. */
  memoryProbe: boolean
  /** The origins over HTTPS, reached through CALLBACK_DESTINATIONS_FILE (bench/lib/destinations.ts); none: plain HTTP. */
  destination: DestinationMode
  /** oauth2-mtls: expires_in of the tokens the receiver issues, s. */
  tokenExpiresInS: number
}

export const USAGE = `Usage: npm run bench -- [--mode throughput|steady|backlog|slow] [options]

  --n N                 results to produce (throughput/slow 200000, backlog 1000000)
  --rate R              steady: results per second (1000)
  --duration S          steady: seconds (60)
  --produce before|during
                        throughput/slow: produce everything before starting the service
                        (default: the window measures the service alone) or once it is ready
  --origins K           distinct callback origins 127.0.0.2… (20)
  --receiver-latency MS every origin answers MS ms after a request arrived, without holding
                        other requests (0: at once)
  --partitions P        partitions of the topics created up front (6, as the service does)
  --replicas R          service processes in one consumer group (1; at most --partitions):
                        delivered/s over the same window, CPU summed over them, event loop
                        and RSS per process (not with the probes, --profile or --memory-limit)
  --batch B             messages per producer.send (1000)
  --sends-in-flight F   producer.send calls in flight (4)
  --timeout-ms MS       CALLBACK_TIMEOUT_MS for the service (10000)
  --hang-origin I       slow: the origin (0-based) that never answers (last one)
  --baseline RATE       slow: delivered/s of a normal run; measured first when absent
  --no-ceilings         throughput: skip the bare consumer and bare HTTP ceilings
  --ceiling-concurrency C  HTTP ceiling: requests in flight (${DEFAULT_TUNING.maxInFlight}, the most the service
                        takes in per loop; with origins answering at once it settles near 300)
  --ceiling-connections C  HTTP ceiling: connections per origin (${DEFAULT_MAX_CONNECTIONS_PER_ORIGIN}, the service's cap)
  --stall S             give up after S seconds without a delivery (60)
  --sample-ms MS        RSS/CPU sampling interval (200)
  --profile             run the service with --cpu-prof and print its top self-time functions
  --waits               preload bench/lib/wait-probe.ts in the service and print what records
                        in flight were waiting on (in-flight vs limits, HTTP, Redis, Kafka
                        fetches, the micro-batchers); its hooks cost CPU: compare without
  --alloc-profile       run V8's sampling heap profiler in the service (garbage included) and
                        print the functions that allocated most
  --brokers LIST        Kafka bootstrap servers (KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092)
  --env KEY=VALUE       extra environment for the service (repeatable)
  --v8-defaults         start the service without its heap flags (src/node-flags.ts)
  --node-arg ARG        extra Node argument for the service, e.g. --node-arg=--trace-gc
                        (repeatable; its output is in the service's stdout.log)
  --memory-limit MB     run the service in a fresh memory cgroup limited to MB MiB (memory and
                        swap), as a container would: prints the group's peak usage, failcnt,
                        OOM kills (needs root and cgroup v1 or v2)
  --memory-probe        preload bench/lib/memory-probe.ts in the service: where its memory is
                        (heap spaces, external, smaps_rollup) at its peak RSS
  --destination none|plain-tls|oauth2-mtls
                        the origins serve HTTPS with a CA made by openssl, named in a
                        CALLBACK_DESTINATIONS_FILE (one destination per origin): plain-tls only
                        trusts the CA; oauth2-mtls also presents a client certificate and a bearer
                        token from the receiver's token endpoint (no ceilings in these modes)
  --token-expires-in S  oauth2-mtls: expires_in of the issued tokens (300)
`

export function parseSettings(argv: string[]): Settings {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      mode: { type: 'string', default: 'throughput' },
      n: { type: 'string' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '60' },
      produce: { type: 'string', default: 'before' },
      origins: { type: 'string', default: '20' },
      'receiver-latency': { type: 'string', default: '0' },
      partitions: { type: 'string', default: '6' },
      replicas: { type: 'string', default: '1' },
      batch: { type: 'string', default: '1000' },
      'sends-in-flight': { type: 'string', default: '4' },
      'timeout-ms': { type: 'string', default: '10000' },
      'hang-origin': { type: 'string' },
      baseline: { type: 'string' },
      'no-ceilings': { type: 'boolean', default: false },
      'ceiling-concurrency': { type: 'string', default: String(DEFAULT_TUNING.maxInFlight) },
      'ceiling-connections': { type: 'string', default: String(DEFAULT_MAX_CONNECTIONS_PER_ORIGIN) },
      stall: { type: 'string', default: '60' },
      'sample-ms': { type: 'string', default: '200' },
      profile: { type: 'boolean', default: false },
      'alloc-profile': { type: 'boolean', default: false },
      waits: { type: 'boolean', default: false },
      'v8-defaults': { type: 'boolean', default: false },
      brokers: { type: 'string', default: process.env.KAFKA_BOOTSTRAP_SERVERS ?? '127.0.0.1:9092' },
      env: { type: 'string', multiple: true, default: [] },
      'node-arg': { type: 'string', multiple: true, default: [] },
      'memory-limit': { type: 'string' },
      'memory-probe': { type: 'boolean', default: false },
      destination: { type: 'string', default: 'none' },
      'token-expires-in': { type: 'string', default: '300' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  const mode = values.mode as Mode
  if (!MODES.includes(mode)) throw new UsageError(`--mode must be one of ${MODES.join(', ')}, got "${values.mode}"`)
  if (values.produce !== 'before' && values.produce !== 'during') throw new UsageError(`--produce must be before or during`)
  const rate = positive('rate', values.rate)
  const durationS = positive('duration', values.duration)
  const origins = integer('origins', values.origins, 1)
  if (origins > 200) throw new UsageError('--origins: at most 200 (127.0.0.2 … 127.0.0.201)')
  const defaultN = mode === 'backlog' ? 1_000_000 : mode === 'steady' ? Math.round(rate * durationS) : 200_000
  const hangOrigin = values['hang-origin'] === undefined ? origins - 1 : integer('hang-origin', values['hang-origin'], 0)
  if (hangOrigin >= origins) throw new UsageError(`--hang-origin must be below --origins (${origins})`)
  const destination = values.destination as DestinationMode
  if (!DESTINATION_MODES.includes(destination)) throw new UsageError(`--destination must be one of ${DESTINATION_MODES.join(', ')}, got "${values.destination}"`)
  const partitions = integer('partitions', values.partitions, 1)
  const replicas = integer('replicas', values.replicas, 1)
  if (replicas > partitions) throw new UsageError(`--replicas ${replicas}: more than the ${partitions} partitions, a replica would have none`)
  // These follow one service process (its profile, its probe's file, its cgroup).
  const oneProcessOnly = Object.entries({ '--profile': values.profile, '--alloc-profile': values['alloc-profile'], '--waits': values.waits, '--memory-probe': values['memory-probe'], '--memory-limit': values['memory-limit'] !== undefined })
    .filter(([, given]) => given)
    .map(([option]) => option)
  if (replicas > 1 && oneProcessOnly.length > 0) throw new UsageError(`--replicas ${replicas}: not with ${oneProcessOnly.join(', ')} (one service process only)`)
  const extraEnv: Record<string, string> = {}
  for (const pair of values.env) {
    const at = pair.indexOf('=')
    if (at <= 0) throw new UsageError(`--env expects KEY=VALUE, got "${pair}"`)
    extraEnv[pair.slice(0, at)] = pair.slice(at + 1)
  }
  return {
    mode,
    n: mode === 'steady' ? Math.round(rate * durationS) : values.n === undefined ? defaultN : integer('n', values.n, 1),
    rate,
    durationS,
    produce: values.produce,
    origins,
    receiverLatencyMs: integer('receiver-latency', values['receiver-latency'], 0),
    partitions,
    replicas,
    batchSize: integer('batch', values.batch, 1),
    sendsInFlight: integer('sends-in-flight', values['sends-in-flight'], 1),
    callbackTimeoutMs: positive('timeout-ms', values['timeout-ms']),
    hangOrigin,
    baselineRate: values.baseline === undefined ? undefined : positive('baseline', values.baseline),
    // The ceilings speak plain HTTP without credentials: not comparable with a destination mode.
    ceilings: !values['no-ceilings'] && destination === 'none',
    ceilingConcurrency: integer('ceiling-concurrency', values['ceiling-concurrency'], 1),
    ceilingConnections: integer('ceiling-connections', values['ceiling-connections'], 1),
    stallS: positive('stall', values.stall),
    sampleMs: positive('sample-ms', values['sample-ms']),
    profile: values.profile,
    allocProfile: values['alloc-profile'],
    waits: values.waits,
    brokers: values.brokers.split(',').map((broker) => broker.trim()).filter(Boolean),
    extraEnv,
    nodeArgs: values['node-arg'],
    v8Defaults: values['v8-defaults'],
    memoryLimitMb: values['memory-limit'] === undefined ? undefined : integer('memory-limit', values['memory-limit'], 16),
    memoryProbe: values['memory-probe'],
    destination,
    tokenExpiresInS: positive('token-expires-in', values['token-expires-in']),
  }
}

export class UsageError extends Error {}

function positive(name: string, text: string): number {
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${name} must be a positive number, got "${text}"`)
  return value
}

function integer(name: string, text: string, min: number): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < min) throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${text}"`)
  return value
}
