// Checks the service's Redis usage against the local HA topologies started by
// scripts/redis-cluster.sh, scripts/redis-sentinel.sh and scripts/redis-tls.sh, with ioredis:
//
//   node scripts/redis-topology-check.ts cluster|sentinel|tls [options]
//
// 1. connects (REDIS_CLUSTER_NODES / REDIS_SENTINELS + REDIS_SENTINEL_MASTER / REDIS_URL +
//    REDIS_TLS_CA_FILE from the environment, else from `scripts/redis-<mode>.sh env`);
// 2. runs a Lua script (defineCommand) on two keys that share a hash slot through a hash tag,
//    processed_messages:123 and notification_lock:{processed_messages:123}, and on two that
//    do not (processed_messages:123 and notification_lock:123): CROSSSLOT in a cluster; in
//    cluster mode also MGET and an explicit pipeline across slots;
// 3. cluster/sentinel: writes --writes keys (20000) at --rate per second (2500) through
//    auto-pipelining, kills a master after --kill-after writes (4000) with the topology
//    script (--rate 0: unpaced), and reports failed writes, how long the client took to recover, and whether every
//    acknowledged key is readable after the failover (writes lost at the crash);
//    tls: the same writes without a kill, plus ACL and certificate checks.
//
// Options: --profile tuned|defaults|service (ioredis options; see clientFor), --writes N,
//   --rate N (2500 with a kill, else 0 = unpaced), --kill-after N, --kill-key KEY (cluster: whose master to kill;
//   processed_messages:123), --no-auto-pipelining (turn it off in any profile),
//   --failover-detector (sentinel, tuned: failoverDetector: true), --no-kill, --no-start (do not run `redis-<mode>.sh start` first),
//   --json FILE (write the figures).
// Exit code 0 when the checks passed and no acknowledged write is missing; 1 otherwise.
import { spawn, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
const MODES = ['cluster', 'sentinel', 'tls'] as const
type Mode = (typeof MODES)[number]
const PROFILES = ['tuned', 'defaults', 'service'] as const
type Profile = (typeof PROFILES)[number]

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    profile: { type: 'string', default: 'tuned' },
    writes: { type: 'string', default: '20000' },
    rate: { type: 'string' },
    'kill-after': { type: 'string', default: '4000' },
    'kill-key': { type: 'string', default: 'processed_messages:123' },
    'no-kill': { type: 'boolean', default: false },
    'no-start': { type: 'boolean', default: false },
    'no-auto-pipelining': { type: 'boolean', default: false },
    'failover-detector': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
})
const mode = positionals[0] as Mode
if (!MODES.includes(mode)) {
  console.error('usage: node scripts/redis-topology-check.ts cluster|sentinel|tls [--profile tuned|defaults|service] [--writes N] [--rate N] [--kill-after N] [--no-kill] [--no-start] [--json FILE]')
  process.exit(2)
}
const profile = args.profile as Profile
if (!PROFILES.includes(profile)) throw new Error(`--profile must be one of ${PROFILES.join(', ')}`)
const WRITES = Number(args.writes)
const KILL_AFTER = Number(args['kill-after'])
const KILL = mode !== 'tls' && !args['no-kill']
// paced so that the failover happens mid-stream; 0 = as fast as the client goes
const RATE = Number(args.rate ?? (KILL ? 2500 : 0))

type Client = Redis | Cluster
interface Scripted {
  touchPair(a: string, b: string, va: string, vb: string): Promise<[string, number]>
}

const figures: Record<string, unknown> = { mode, profile, writes: WRITES, rate: RATE }
let failedChecks = 0
function check(ok: boolean, what: string): void {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`)
  if (!ok) failedChecks++
}
const errText = (e: unknown): string => (e instanceof Error ? e.message : String(e))

// ------------------------------------------------------------------ topology ---

function script(name: string): string {
  return join(ROOT, 'scripts', `redis-${name}.sh`)
}

function topologyEnv(): Record<string, string> {
  if (!args['no-start']) {
    const t = performance.now()
    const r = spawnSync('bash', [script(mode), 'start'], { stdio: ['ignore', 'inherit', 'inherit'] })
    if (r.status !== 0) throw new Error(`redis-${mode}.sh start failed`)
    figures.startMs = Math.round(performance.now() - t)
  }
  const r = spawnSync('bash', [script(mode), 'env'], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`redis-${mode}.sh env failed: ${r.stderr}`)
  const env: Record<string, string> = {}
  for (const line of r.stdout.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line)
    if (m) env[m[1]!] = process.env[m[1]!] ?? m[2]!
  }
  return env
}

function hostPorts(list: string): { host: string; port: number }[] {
  return list.split(',').map((entry) => {
    const i = entry.lastIndexOf(':')
    return { host: entry.slice(0, i), port: Number(entry.slice(i + 1)) }
  })
}

// ------------------------------------------------------------------- clients ---

let clusterNodes: { host: string; port: number }[] = []

/**
 * The ioredis options under test.
 *   defaults: ioredis's defaults plus auto-pipelining (as the service uses).
 *   service:  what the service passed before src/store/redis-client.ts (maxRetriesPerRequest 2, ...).
 *   tuned:    what made failover transparent here.
 */
function clientFor(env: Record<string, string>): { client: Client; options: unknown } {
  const serviceRedis: RedisOptions = {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 2,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  }
  if (mode === 'cluster') {
    const nodes = hostPorts(env.REDIS_CLUSTER_NODES ?? '')
    clusterNodes = nodes
    const options: ClusterOptions =
      profile === 'defaults'
        ? { enableAutoPipelining: true }
        : profile === 'service'
          ? { enableAutoPipelining: true, redisOptions: { maxRetriesPerRequest: 2, connectTimeout: 5000 } }
          : {
              enableAutoPipelining: true,
              // every retry below costs one redirection: 60 × 250 ms covers a ~5 s failover
              maxRedirections: 60,
              retryDelayOnFailover: 250, // "Connection is closed" to the dead master
              retryDelayOnClusterDown: 250, // CLUSTERDOWN while the master is FAIL and not yet replaced
              retryDelayOnTryAgain: 250,
              slotsRefreshTimeout: 2000,
              slotsRefreshInterval: 1000, // notice the promoted replica sooner (default 5000)
              scaleReads: 'master', // reads after writes must see them; replicas lag
              redisOptions: { connectTimeout: 2000, maxRetriesPerRequest: 20 },
            }
    if (args['no-auto-pipelining']) options.enableAutoPipelining = false
    const redisOptions = options.redisOptions as Record<string, unknown> | undefined
    return { client: new Cluster(nodes, options), options: { ...options, redisOptions } }
  }
  if (mode === 'sentinel') {
    const base = { sentinels: hostPorts(env.REDIS_SENTINELS ?? ''), name: env.REDIS_SENTINEL_MASTER ?? 'notifications' }
    const options: RedisOptions =
      profile === 'defaults'
        ? { ...base, enableAutoPipelining: true }
        : profile === 'service'
          ? { ...base, ...serviceRedis }
          : {
              ...base,
              enableAutoPipelining: true,
              // queued commands survive this many reconnect attempts (not a time): with
              // retryStrategy's 100..500 ms that is well over the ~4 s failover
              maxRetriesPerRequest: 40,
              retryStrategy: (times) => Math.min(times * 100, 500),
              connectTimeout: 2000,
              sentinelRetryStrategy: (times) => Math.min(times * 100, 1000),
              // a demoted (not dead) master answers READONLY: reconnect through the sentinels
              // and resend the command
              reconnectOnError: (error) => (error.message.startsWith('READONLY') ? 2 : false),
              // failoverDetector: true (subscribe to +switch-master) is left off: in 3 of 5 runs
              // at 15000 writes/s it raced with the reconnect after the kill (aborted commands;
              // twice the client ended up closed for good), and quit() leaks its connections
              failoverDetector: args['failover-detector'],
            }
    if (args['no-auto-pipelining']) options.enableAutoPipelining = false
    return { client: new Redis(options), options: { ...options, retryStrategy: String(options.retryStrategy), sentinelRetryStrategy: String(options.sentinelRetryStrategy), reconnectOnError: String(options.reconnectOnError) } }
  }
  const url = env.REDIS_URL ?? ''
  const caFile = env.REDIS_TLS_CA_FILE ?? ''
  const options: RedisOptions = {
    ...(profile === 'service' ? serviceRedis : { enableAutoPipelining: true }),
    tls: { ca: readFileSync(caFile) },
  }
  return { client: new Redis(url, options), options: { ...options, retryStrategy: String(options.retryStrategy), tls: { ca: `<contents of ${caFile}>` } } }
}

// -------------------------------------------------------------- hash slots ---

function crc16(data: Buffer): number {
  let crc = 0
  for (const byte of data) {
    crc ^= byte << 8
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}
/** Redis Cluster hash slot: only the text between the first { and the next } counts, if not empty. */
function keySlot(key: string): number {
  const open = key.indexOf('{')
  if (open !== -1) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) key = key.slice(open + 1, close)
  }
  return crc16(Buffer.from(key)) % 16384
}

// ------------------------------------------------------------------ checks ---

const TOUCH_PAIR = `
redis.call('SET', KEYS[1], ARGV[1], 'EX', 600)
local locked = redis.call('SET', KEYS[2], ARGV[2], 'PX', 30000)
return {redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[2])}
`
const DONE = 'processed_messages:123'
const LOCK_TAGGED = 'notification_lock:{processed_messages:123}'
const LOCK_PLAIN = 'notification_lock:123' // the service's lock key name today (src/names.ts)

async function luaChecks(client: Client): Promise<void> {
  client.defineCommand('touchPair', { numberOfKeys: 2, lua: TOUCH_PAIR })
  const scripted = client as unknown as Scripted
  if (client instanceof Cluster) {
    const slots: Record<string, number> = {}
    for (const key of [DONE, LOCK_TAGGED, LOCK_PLAIN]) {
      slots[key] = await client.cluster('KEYSLOT', key)
      check(slots[key] === keySlot(key), `CLUSTER KEYSLOT ${key} = ${slots[key]} (local CRC16: ${keySlot(key)})`)
    }
    figures.keySlots = slots
    check(slots[DONE] === slots[LOCK_TAGGED], `${DONE} and ${LOCK_TAGGED} share slot ${slots[DONE]}`)
    check(slots[DONE] !== slots[LOCK_PLAIN], `${DONE} and ${LOCK_PLAIN} are in different slots (${slots[DONE]}, ${slots[LOCK_PLAIN]})`)
  }
  const same = await scripted.touchPair(DONE, LOCK_TAGGED, 'sent', 'owner-1')
  check(same[0] === 'sent' && same[1] > 0, `Lua via defineCommand on ${DONE} + ${LOCK_TAGGED}: ${JSON.stringify(same)}`)
  let crossError = ''
  try {
    await scripted.touchPair(DONE, LOCK_PLAIN, 'sent', 'owner-1')
  } catch (error) {
    crossError = errText(error)
  }
  if (client instanceof Cluster) {
    // with auto-pipelining ioredis refuses a multi-slot command itself; without, Redis answers CROSSSLOT
    check(/^CROSSSLOT|should belong to the same slot/.test(crossError), `same script on ${DONE} + ${LOCK_PLAIN} fails: ${crossError || '(no error)'}`)
    const plain = new Cluster(clusterNodes, { enableAutoPipelining: false })
    plain.defineCommand('touchPair', { numberOfKeys: 2, lua: TOUCH_PAIR })
    let serverError = ''
    try {
      await (plain as unknown as Scripted).touchPair(DONE, LOCK_PLAIN, 'sent', 'owner-1')
    } catch (error) {
      serverError = errText(error)
    }
    let plainMget = ''
    try {
      await plain.mget(DONE, LOCK_PLAIN)
    } catch (error) {
      plainMget = errText(error)
    }
    await plain.quit()
    check(serverError.startsWith('CROSSSLOT'), `the same without auto-pipelining (Redis answers): ${serverError || '(no error)'}`)
    check(plainMget.startsWith('CROSSSLOT'), `MGET across slots without auto-pipelining: ${plainMget || '(no error)'}`)
    let mgetError = ''
    try {
      await client.mget(DONE, LOCK_PLAIN)
    } catch (error) {
      mgetError = errText(error)
    }
    check(/^CROSSSLOT|should belong to the same slot/.test(mgetError), `MGET across slots fails: ${mgetError || '(no error)'}`)
    const sameNode = await pipelineAcross(client, true)
    const otherNode = await pipelineAcross(client, false)
    figures.crossSlot = { lua: crossError, luaWithoutAutoPipelining: serverError, mget: mgetError, mgetWithoutAutoPipelining: plainMget, pipelineSameNode: sameNode, pipelineOtherNodes: otherNode }
    // auto-pipelining splits by node on its own: keys on all masters in one tick
    const keys = Array.from({ length: 30 }, (_, i) => `topology-check:autopipe:${i}`)
    await Promise.all(keys.map((key) => client.set(key, key, 'EX', 600)))
    const back = await Promise.all(keys.map((key) => client.get(key)))
    check(
      back.every((value, i) => value === keys[i]),
      `auto-pipelining: 30 SET + 30 GET over ${new Set(keys.map(keySlot)).size} slots on all masters in one tick`,
    )
  } else {
    check(crossError === '', `same script on ${DONE} + ${LOCK_PLAIN} works here (no slots outside a cluster): ${crossError || 'ok'}`)
  }
}

/** slot → port of its master, from CLUSTER SLOTS. */
async function slotOwners(client: Cluster): Promise<(slot: number) => number> {
  const reply = await client.cluster('SLOTS')
  return (slot) => reply.find(([lo, hi]) => slot >= lo && slot <= hi)?.[2]?.[1] ?? -1
}

/** An explicit pipeline (not auto-pipelining) over two slots, on the same master or on two. */
async function pipelineAcross(client: Cluster, sameNode: boolean): Promise<string> {
  const masterOf = await slotOwners(client)
  const first = 'topology-check:pipe:a'
  let i = 0
  const differs = (key: string): boolean => keySlot(key) !== keySlot(first) && (masterOf(keySlot(key)) === masterOf(keySlot(first))) === sameNode
  while (!differs(`topology-check:pipe:b${i}`)) i++
  const second = `topology-check:pipe:b${i}`
  let result: string
  try {
    const replies = await client.pipeline().set(first, '1', 'EX', 600).set(second, '2', 'EX', 600).exec()
    const errors = (replies ?? []).map(([e]) => e).filter((e) => e !== null)
    result = errors.length === 0 ? 'ok' : errors.map(errText).join('; ')
  } catch (error) {
    result = errText(error)
  }
  console.log(`     pipeline() with keys in slots ${keySlot(first)} and ${keySlot(second)} (${sameNode ? 'same master' : 'different masters'}): ${result}`)
  return result
}

async function tlsChecks(client: Redis, env: Record<string, string>): Promise<void> {
  let flush = ''
  try {
    await client.flushall()
  } catch (error) {
    flush = errText(error)
  }
  check(flush.startsWith('NOPERM'), `ACL: user svc may not FLUSHALL: ${flush || '(allowed!)'}`)
  const who = await client.acl('WHOAMI')
  check(who === 'svc', `ACL WHOAMI = ${String(who)}`)
  // without the CA the self-signed chain must be refused
  const noCa = new Redis(env.REDIS_URL ?? '', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  let refused = ''
  noCa.on('error', (error: unknown) => (refused ||= errText(error)))
  try {
    await noCa.connect()
    await noCa.ping()
  } catch (error) {
    refused ||= errText(error)
  }
  noCa.disconnect()
  check(refused !== '', `without REDIS_TLS_CA_FILE the certificate is refused: ${refused || '(connected!)'}`)
  const plain = new Redis((env.REDIS_URL ?? '').replace('rediss://', 'redis://'), { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 2000 })
  let plainError = ''
  plain.on('error', (error: unknown) => (plainError ||= errText(error)))
  try {
    await plain.connect()
    await plain.ping()
  } catch (error) {
    plainError ||= errText(error)
  }
  plain.disconnect()
  check(plainError !== '', `plain-text redis:// to the TLS port fails: ${plainError || '(connected!)'}`)
}

// ---------------------------------------------------------- write + failover ---

interface Kill {
  killedAt?: number // performance.now() when the script said it killed
  killedPort?: number
  newPort?: number
  scriptFailoverMs?: number
  done: Promise<void>
}

function startKill(): Kill {
  const argv = mode === 'cluster' ? [script('cluster'), 'kill-master-of', args['kill-key']] : [script('sentinel'), 'kill-master']
  const child = spawn('bash', argv, { stdio: ['ignore', 'pipe', 'pipe'] })
  const kill: Kill = { done: Promise.resolve() }
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk
    const port = /^(\d+)$/m.exec(out)
    if (mode === 'cluster' && port && kill.killedPort === undefined) kill.killedPort = Number(port[1])
    const m = /old=(\d+) new=(\d+) failover_ms=(\d+)/.exec(out)
    if (m) {
      kill.killedPort = Number(m[1])
      kill.newPort = Number(m[2])
      kill.scriptFailoverMs = Number(m[3])
    }
  })
  let err = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    err += chunk
    process.stderr.write(chunk.replace(/^(?=.)/gm, '     '))
    if (kill.killedAt === undefined && /killed master/.test(err)) kill.killedAt = performance.now()
    const served = /now served by (\d+), (\d+) ms after the kill/.exec(err)
    if (served) {
      kill.newPort = Number(served[1])
      kill.scriptFailoverMs = Number(served[2])
    }
  })
  kill.done = new Promise((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`kill script exited ${code}: ${err.trim()}`)))),
  )
  return kill
}

async function writeUnderFailover(client: Client): Promise<void> {
  const run = Date.now().toString(36)
  const key = (i: number): string => `topology-check:${run}:${i}`
  const issued = new Float64Array(WRITES)
  const settled = new Float64Array(WRITES)
  const ok = new Uint8Array(WRITES)
  const errorsByText = new Map<string, number>()
  // slot → master port before the kill (cluster only)
  let ownerBefore: ((slot: number) => number) | undefined
  if (client instanceof Cluster) {
    ownerBefore = await slotOwners(client)
  }
  let kill: Kill | undefined
  const pending: Promise<void>[] = []
  const t0 = performance.now()
  for (let i = 0; i < WRITES; i++) {
    if (RATE > 0) {
      const wait = t0 + (i * 1000) / RATE - performance.now()
      if (wait > 1) await sleep(wait)
    }
    if (KILL && i === KILL_AFTER) kill = startKill()
    issued[i] = performance.now()
    pending.push(
      client.set(key(i), String(i), 'EX', 3600).then(
        () => {
          settled[i] = performance.now()
          ok[i] = 1
        },
        (error: unknown) => {
          settled[i] = performance.now()
          const text = errText(error).replace(/\d+/g, 'N').slice(0, 90)
          errorsByText.set(text, (errorsByText.get(text) ?? 0) + 1)
        },
      ),
    )
  }
  await Promise.all(pending)
  const writeMs = performance.now() - t0
  if (kill) await kill.done
  const acked = ok.reduce((n, v) => n + v, 0)
  const failed = WRITES - acked
  console.log(`     ${WRITES} writes in ${Math.round(writeMs)} ms: ${acked} acknowledged, ${failed} failed`)
  for (const [text, n] of errorsByText) console.log(`       ${n} × ${text}`)
  const result: Record<string, unknown> = { writeMs: Math.round(writeMs), acked, failed, errors: Object.fromEntries(errorsByText) }

  if (kill) {
    const killedAt = kill.killedAt ?? issued[KILL_AFTER]!
    const killedPort = kill.killedPort ?? -1
    const affected = (i: number): boolean => !ownerBefore || ownerBefore(keySlot(key(i))) === killedPort
    // recovery: the first acknowledged write to the failed shard issued after the kill
    let recovered = Infinity
    let maxLatency = 0
    let lastFailure = -Infinity
    let affectedAfter = 0
    let affectedFailed = 0
    for (let i = 0; i < WRITES; i++) {
      if (!affected(i)) continue
      if (issued[i]! >= killedAt) {
        affectedAfter++
        if (ok[i]) recovered = Math.min(recovered, settled[i]!)
        else affectedFailed++
      }
      if (settled[i]! >= killedAt) maxLatency = Math.max(maxLatency, settled[i]! - issued[i]!)
      if (!ok[i]) lastFailure = Math.max(lastFailure, settled[i]!)
    }
    const clientRecoveryMs = Number.isFinite(recovered) ? Math.round(recovered - killedAt) : null
    const maxWriteLatencyMs = Math.round(maxLatency)
    Object.assign(result, {
      killedPort,
      newMasterPort: kill.newPort,
      failoverMsByScript: kill.scriptFailoverMs,
      affectedWritesAfterKill: affectedAfter,
      affectedWritesAfterKillFailed: affectedFailed,
      clientRecoveryMs,
      maxWriteLatencyMs,
      lastFailureAfterKillMs: Number.isFinite(lastFailure) ? Math.round(lastFailure - killedAt) : null,
    })
    console.log(
      `     killed ${killedPort}; new master ${kill.newPort ?? '?'} after ${kill.scriptFailoverMs ?? '?'} ms (script); ` +
        `client: first write to that shard acknowledged ${clientRecoveryMs ?? 'never'} ms after the kill, ` +
        `slowest write ${maxWriteLatencyMs} ms, ${affectedFailed} of ${affectedAfter} later writes to it failed`,
    )
  }

  // every acknowledged key must be readable (from the masters) after the failover
  const readBack = await Promise.all(Array.from({ length: WRITES }, (_, i) => client.get(key(i)).catch((error: unknown) => `ERR ${errText(error)}`)))
  let lost = 0
  let wrong = 0
  let failedButPresent = 0
  const lostKeys: number[] = []
  for (let i = 0; i < WRITES; i++) {
    const value = readBack[i]
    if (ok[i]) {
      if (value === null) {
        lost++
        if (lostKeys.length < 10) lostKeys.push(i)
      } else if (value !== String(i)) wrong++
    } else if (value === String(i)) failedButPresent++
  }
  Object.assign(result, { acknowledgedButLost: lost, lostExamples: lostKeys, wrongValue: wrong, reportedFailedButWritten: failedButPresent })
  console.log(
    `     read back: ${lost} acknowledged writes lost${lost ? ` (e.g. #${lostKeys.join(', #')})` : ''}, ${wrong} wrong, ` +
      `${failedButPresent} writes reported failed but present`,
  )
  check(lost === 0 && wrong === 0, `all acknowledged writes readable after ${kill ? 'the failover' : 'the run'}`)
  figures.writes = result
  // the Lua script again: a promoted replica has no script cache; EVALSHA → NOSCRIPT → EVAL
  if (kill) {
    const again = await (client as unknown as Scripted).touchPair(DONE, LOCK_TAGGED, 'sent', 'owner-2').then(
      (r) => JSON.stringify(r),
      (error: unknown) => `error: ${errText(error)}`,
    )
    check(!again.startsWith('error'), `Lua script after the failover (new master, empty script cache): ${again}`)
  }
}

// -------------------------------------------------------------------- main ---

async function main(): Promise<void> {
  const env = topologyEnv()
  const { client, options } = clientFor(env)
  figures.options = options
  console.log(`${mode}, profile ${profile}: ioredis options ${JSON.stringify(options)}`)
  const errorEvents = new Map<string, number>()
  client.on('error', (error: unknown) => {
    const text = errText(error).replace(/\d+/g, 'N').slice(0, 80)
    errorEvents.set(text, (errorEvents.get(text) ?? 0) + 1)
  })
  const t = performance.now()
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => resolve())
    setTimeout(() => reject(new Error('not ready within 20 s')), 20_000).unref()
  })
  const connectMs = Math.round(performance.now() - t)
  figures.connectMs = connectMs
  console.log(`     ready in ${connectMs} ms`)
  await luaChecks(client)
  if (mode === 'tls') await tlsChecks(client as Redis, env)
  await writeUnderFailover(client)
  figures.clientErrorEvents = Object.fromEntries(errorEvents)
  if (errorEvents.size) console.log(`     'error' events: ${JSON.stringify(figures.clientErrorEvents)}`)
  await client.quit().catch(() => undefined)
  // quit() leaves failoverDetector's sentinel subscriptions open and the process never
  // exits (redis/ioredis#1362, still so in 6.0.0); disconnect() closes them
  client.disconnect()
  if (args.json) writeFileSync(args.json, JSON.stringify(figures, null, 2) + '\n')
  console.log(failedChecks === 0 ? 'all checks passed' : `${failedChecks} check(s) failed`)
  process.exitCode = failedChecks === 0 ? 0 : 1
}

await main()
