// The three-broker SASL_SSL cluster of scripts/kafka-cluster.sh, for the tests in
// test/cluster/: running the script without blocking this process (a test's HTTP receiver
// lives here), its connection settings, and a client connection built from them.
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { KafkaConnection } from '../../src/kafka/connection.ts'
import { ROOT } from './service.ts'

export const CLUSTER_SCRIPT = join(ROOT, 'scripts/kafka-cluster.sh')

/**
 * Runs `scripts/kafka-cluster.sh ARGS` (asynchronously: spawnSync would stall this process's
 * receiver for the seconds a broker takes to start) and gives its stdout, trimmed.
 */
export function cluster(args: string[], timeoutMs = 180_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', [CLUSTER_SCRIPT, ...args], { cwd: ROOT, timeout: timeoutMs, encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`kafka-cluster.sh ${args.join(' ')} failed (${error.code ?? error.signal ?? 'error'}): ${stderr.trim().split('\n').slice(-15).join('\n')}`, { cause: error }))
      else resolve(stdout.trim())
    })
  })
}

/** `kafka-cluster.sh env`: the service's settings for the SASL_SSL listener (KAFKA_BOOTSTRAP_SERVERS, KAFKA_SASL_*, KAFKA_SSL_CA_FILE). */
export async function clusterEnv(): Promise<Record<string, string>> {
  const env: Record<string, string> = {}
  for (const line of (await cluster(['env'], 30_000)).split('\n')) {
    const at = line.indexOf('=')
    if (at > 0) env[line.slice(0, at)] = line.slice(at + 1)
  }
  for (const name of ['KAFKA_BOOTSTRAP_SERVERS', 'KAFKA_SECURITY_PROTOCOL', 'KAFKA_SASL_MECHANISM', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD', 'KAFKA_SSL_CA_FILE']) {
    if (!env[name]) throw new Error(`kafka-cluster.sh env printed no ${name}`)
  }
  return env
}

/** The TLS files of the cluster (next to the CA in `env`). */
export function clusterTlsFiles(env: Record<string, string>): { ca: string; untrustedCa: string; clientCert: string; clientKey: string } {
  const ca = env.KAFKA_SSL_CA_FILE ?? ''
  const dir = dirname(ca)
  return { ca, untrustedCa: join(dir, 'untrusted-ca.pem'), clientCert: join(dir, 'client.pem'), clientKey: join(dir, 'client.key') }
}

/** The mutual-TLS listener (SSL, client certificate required): base KAFKA_CLUSTER_SSL_PORT (19392), broker N at base + N - 1. */
export function mtlsBrokers(): string[] {
  const base = Number(process.env.KAFKA_CLUSTER_SSL_PORT ?? 19392)
  return [0, 1, 2].map((i) => `127.0.0.1:${base + i}`)
}

/**
 * A client connection from `env`, built here rather than by the service's kafkaConnection(),
 * so that a mistake there cannot hide behind the same mistake in the test's own clients.
 */
export function clusterConnection(env: Record<string, string>): KafkaConnection {
  return {
    bootstrapBrokers: (env.KAFKA_BOOTSTRAP_SERVERS ?? '').split(','),
    tls: { ca: readFileSync(env.KAFKA_SSL_CA_FILE ?? '') },
    sasl: { mechanism: env.KAFKA_SASL_MECHANISM as 'SCRAM-SHA-512', username: env.KAFKA_SASL_USERNAME ?? '', password: env.KAFKA_SASL_PASSWORD ?? '' },
  }
}
