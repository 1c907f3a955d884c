// The soak's command line.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { FAULT_KINDS, type FaultKind } from './nemesis.ts'
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
  /** The fault kinds the nemesis draws from (all by default). */
  faults: FaultKind[]
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
      faults: { type: 'string', default: FAULT_KINDS.join(',') },
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
  const faults = (values.faults ?? '').split(',').filter(Boolean)
  const unknown = faults.filter((kind) => !(FAULT_KINDS as readonly string[]).includes(kind))
  if (faults.length === 0 || unknown.length > 0) {
    console.error(`--faults must list kinds among ${FAULT_KINDS.join(',')}, got "${values.faults}"`)
    process.exit(2)
  }
  return {
    faults: faults as FaultKind[],
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
