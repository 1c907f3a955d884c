// The soak's infrastructure, through the project's own scripts: the three-broker SASL_SSL
// Kafka cluster (kafka-cluster.sh, in .soak/kafka-cluster on ports of its own, so the
// cluster tests' one can run beside it) and a Redis Cluster (redis-cluster.sh) or a Sentinel
// set (redis-sentinel.sh), also on ports of their own. Start, stop, and the faults done to them.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { KafkaConnection } from '../../src/kafka/connection.ts'
import { ROOT } from '../faults/procs.ts'

export type RedisKind = 'cluster' | 'sentinel'

/** Ports apart from the tests' (kafka 19092…, redis 7001…/7101…): a soak can run beside them. */
const SCRIPT_ENV: Record<string, string> = {
  KAFKA_CLUSTER_DIR: join(ROOT, '.soak/kafka-cluster'),
  KAFKA_CLUSTER_PORT: '29092',
  KAFKA_CLUSTER_CONTROLLER_PORT: '29192',
  KAFKA_CLUSTER_INTERNAL_PORT: '29292',
  KAFKA_CLUSTER_SSL_PORT: '29392',
  // A broker restarted after kill -9 on the loaded box can take minutes before the JVM tool
  // that checks it gets an answer in time (run 10: broker up in 37 s, confirmed after 159 s).
  KAFKA_CLUSTER_START_TIMEOUT: '300',
  // A Redis node restarted as a replica loads its master's whole snapshot first, and the data
  // grows all run: in run 16 (Sentinel, one master holding it all) five restarts late in the run
  // were not synced within 30 s, or still LOADING after 10 s, and the nemesis gave up on them.
  REDIS_SENTINEL_START_TIMEOUT: '180',
  REDIS_CLUSTER_START_TIMEOUT: '180',
  REDIS_CLUSTER_BASE_PORT: '7301',
  REDIS_SENTINEL_DATA_BASE_PORT: '7401',
  REDIS_SENTINEL_BASE_PORT: '27401',
}

/** Runs `bash scripts/NAME ARGS` without blocking this process (the origins live here); resolves with its stdout. */
export function script(name: string, args: string[], timeoutMs = 300_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [join(ROOT, 'scripts', name), ...args], { cwd: ROOT, env: { ...process.env, ...SCRIPT_ENV }, timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${name} ${args.join(' ')}: ${stderr.trim().split('\n').slice(-8).join(' | ')}`, { cause: error }))
      else resolve(stdout.trim())
    })
  })
}

function parseEnv(text: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const at = line.indexOf('=')
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1)
  }
  return env
}

const redisScript = (kind: RedisKind) => (kind === 'cluster' ? 'redis-cluster.sh' : 'redis-sentinel.sh')

export class Topology {
  readonly redis: RedisKind
  /** The service's settings for Kafka and Redis (KAFKA_*, REDIS_*). */
  env: Record<string, string> = {}
  connection: KafkaConnection = { bootstrapBrokers: [] }

  constructor(redis: RedisKind) {
    this.redis = redis
  }

  async start(): Promise<void> {
    await Promise.all([script('kafka-cluster.sh', ['start'], 600_000), script(redisScript(this.redis), ['start'], 120_000)])
    const kafka = parseEnv(await script('kafka-cluster.sh', ['env']))
    const redis = parseEnv(await script(redisScript(this.redis), ['env']))
    this.env = { ...kafka, ...redis }
    this.connection = {
      bootstrapBrokers: (kafka.KAFKA_BOOTSTRAP_SERVERS ?? '').split(','),
      tls: { ca: readFileSync(kafka.KAFKA_SSL_CA_FILE ?? '') },
      sasl: { mechanism: 'SCRAM-SHA-512', username: kafka.KAFKA_SASL_USERNAME ?? '', password: kafka.KAFKA_SASL_PASSWORD ?? '' },
    }
  }

  /** Both stopped; the first failure is reported after both were tried. */
  async stop(): Promise<void> {
    const results = await Promise.allSettled([script('kafka-cluster.sh', ['stop'], 120_000), script(redisScript(this.redis), ['stop'], 60_000)])
    const failed = results.find((r) => r.status === 'rejected')
    if (failed) throw failed.reason
  }

  killBroker(n: number): Promise<string> {
    return script('kafka-cluster.sh', ['kill-broker', String(n)])
  }

  startBroker(n: number): Promise<string> {
    return script('kafka-cluster.sh', ['start-broker', String(n)], 300_000)
  }

  /** kill -9 the master (of the slot of `key` in a cluster) and wait for the failover; then start it again as a replica. */
  async killRedisMaster(key: string): Promise<string> {
    const killed = this.redis === 'cluster' ? await script('redis-cluster.sh', ['kill-master-of', key]) : await script('redis-sentinel.sh', ['kill-master'])
    await script(redisScript(this.redis), ['start'], 120_000)
    return killed.split('\n').at(-1) ?? ''
  }

  async restartRedisReplica(): Promise<string> {
    return (await script(redisScript(this.redis), ['restart-replica'], 120_000)).split('\n')[0] ?? ''
  }
}
