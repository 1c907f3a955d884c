// The soak's command line.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import type { RedisKind } from './topology.ts'

export interface SoakOptions {
  minutes: number
  seed: number
  redis: RedisKind
  rate: number
  origins: number
  replicas: number
  settleSeconds: number
  json: string | undefined
  md: string | undefined
  keepRunning: boolean
  /** Only stop what a soak may have left running (its Kafka cluster, both Redis topologies). */
  cleanup: boolean
}

function positive(name: string, text: string | undefined): number {
  const value = Number(text)
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number, got "${text}"`)
    process.exit(2)
  }
  return value
}

export function soakOptions(argv: string[], usageFile: URL): SoakOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '3' },
      seed: { type: 'string' },
      redis: { type: 'string', default: 'cluster' },
      rate: { type: 'string', default: '300' },
      origins: { type: 'string', default: '200' },
      replicas: { type: 'string', default: '3' },
      settle: { type: 'string', default: '240' },
      json: { type: 'string' },
      md: { type: 'string' },
      'keep-running': { type: 'boolean', default: false },
      cleanup: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  })
  if (values.help) {
    const usage = readFileSync(usageFile, 'utf8').split('\n').filter((l) => l.startsWith('//')).map((l) => l.slice(3))
    console.log(usage.join('\n'))
    process.exit(0)
  }
  if (values.redis !== 'cluster' && values.redis !== 'sentinel') {
    console.error(`--redis must be cluster or sentinel, got "${values.redis}"`)
    process.exit(2)
  }
  return {
    minutes: positive('minutes', values.minutes),
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Math.floor(positive('seed', values.seed)),
    redis: values.redis,
    rate: positive('rate', values.rate),
    origins: Math.max(4, Math.floor(positive('origins', values.origins))),
    replicas: Math.floor(positive('replicas', values.replicas)),
    settleSeconds: positive('settle', values.settle),
    json: values.json,
    md: values.md,
    keepRunning: values['keep-running'],
    cleanup: values.cleanup,
  }
}
