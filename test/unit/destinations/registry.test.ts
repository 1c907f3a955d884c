import { afterEach, beforeEach, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { Counter, Gauge, Registry } from 'prom-client'
import { readDestinationsFile } from '../../../src/destinations/file.ts'
import type { DestinationSet } from '../../../src/destinations/policy.ts'
import { DestinationRegistry, type DestinationMetrics } from '../../../src/destinations/registry.ts'

const SECRET = 'registry-secret-never-logged'
const sources = { env: { TOKEN: SECRET }, readFile: () => assert.fail('no file references here') }

let dir: string
let logs: Array<{ level: number; msg: string; [key: string]: unknown }>
let registries: DestinationRegistry[]
let metricsRegistry: Registry

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'destinations-registry-'))
  logs = []
  registries = []
  metricsRegistry = new Registry()
})
afterEach(() => {
  for (const registry of registries) registry.close()
  rmSync(dir, { recursive: true, force: true })
})

const fileFor = (...origins: string[]) => `destinations:\n${origins.map((origin) => `  - origin: "${origin}"\n    auth: { bearer: "\${env:TOKEN}" }\n`).join('')}`

function metrics(): DestinationMetrics {
  const registers = [metricsRegistry]
  return {
    destinationReloads: new Counter({ name: 'notification_destinations_reloads_total', help: 'h', labelNames: ['result'], registers }),
    destinationsLoaded: new Gauge({ name: 'notification_destinations_loaded_timestamp_seconds', help: 'h', registers }),
    destinationsCount: new Gauge({ name: 'notification_destinations', help: 'h', registers }),
  }
}

function start(file: string, options: { watch?: boolean } = {}): DestinationRegistry {
  const logger = pino({ level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) })
  const registry = new DestinationRegistry({ initial: readDestinationsFile(file, { sources }), logger, metrics: metrics(), sources, watch: options.watch ?? false, debounceMs: 50 })
  registries.push(registry)
  return registry
}

async function reloads(result: string): Promise<number> {
  const metric = await metricsRegistry.getSingleMetric('notification_destinations_reloads_total')?.get()
  return metric?.values.find((value) => value.labels.result === result)?.value ?? 0
}

/** Resolves with the next applied set; rejects after `ms`. */
function nextApplied(registry: DestinationRegistry, ms = 5000): Promise<DestinationSet> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reload applied within ${ms} ms`)), ms)
    const stop = registry.onApplied((set) => {
      clearTimeout(timer)
      stop()
      resolve(set)
    })
  })
}

describe('DestinationRegistry.reload', () => {
  it('applies a valid file to the next lookups', async () => {
    const file = join(dir, 'destinations.yaml')
    writeFileSync(file, fileFor('https://a.example'))
    const registry = start(file)
    const before = registry.current()
    assert.equal(registry.policyFor('https://b.example'), undefined)
    writeFileSync(file, fileFor('https://a.example', 'https://b.example'))
    assert.deepEqual(registry.reload('signal'), { result: 'applied' })
    assert.notEqual(registry.current(), before)
    assert.equal(registry.policyFor('https://b.example')?.pattern, 'https://b.example')
    assert.equal(registry.lastReload()?.applied, true)
    assert.equal(await reloads('applied'), 1)
    assert.match(await metricsRegistry.metrics(), /notification_destinations 2/)
    assert.ok(logs.some((line) => line.msg.startsWith('destinations file reloaded')))
  })

  it('refuses an invalid file with one log line and a metric; the previous set stays', async () => {
    const file = join(dir, 'destinations.yaml')
    writeFileSync(file, fileFor('https://a.example'))
    const registry = start(file)
    const before = registry.current()
    writeFileSync(file, `${fileFor('https://a.example')}    max_conections: 3\n`)
    const result = registry.reload('signal')
    const expected = `CALLBACK_DESTINATIONS_FILE ${file}: destinations[0] (https://a.example): max_conections: unknown field`
    assert.deepEqual(result, { result: 'refused', problem: expected })
    assert.equal(registry.current(), before)
    assert.equal(registry.policyFor('https://a.example')?.auth?.kind, 'bearer')
    assert.deepEqual(registry.lastReload(), { at: registry.lastReload()?.at, applied: false, problem: expected })
    assert.equal(await reloads('refused'), 1)
    assert.equal(await reloads('applied'), 0)
    const errors = logs.filter((line) => line.level >= 40)
    assert.equal(errors.length, 1)
    assert.ok(errors[0]!.msg.startsWith(expected), errors[0]!.msg)
    assert.ok(!JSON.stringify(logs).includes(SECRET))
  })

  it('refuses a file that went missing, and applies it once back', () => {
    const file = join(dir, 'destinations.yaml')
    writeFileSync(file, fileFor('https://a.example'))
    const registry = start(file)
    rmSync(file)
    assert.deepEqual(registry.reload('change'), { result: 'refused', problem: `CALLBACK_DESTINATIONS_FILE ${file}: cannot read the file (ENOENT)` })
    writeFileSync(file, fileFor('https://a.example'))
    assert.deepEqual(registry.reload('change'), { result: 'applied' })
  })

  it('skips a change whose text is the same; a signal re-reads anyway', () => {
    const file = join(dir, 'destinations.yaml')
    writeFileSync(file, fileFor('https://a.example'))
    const registry = start(file)
    assert.deepEqual(registry.reload('change'), { result: 'unchanged' })
    assert.deepEqual(registry.reload('signal'), { result: 'applied' })
  })
})

describe('DestinationRegistry watching the file', () => {
  it('sees the file rewritten in place', async () => {
    const file = join(dir, 'destinations.yaml')
    writeFileSync(file, fileFor('https://a.example'))
    const registry = start(file, { watch: true })
    const applied = nextApplied(registry)
    writeFileSync(file, fileFor('https://b.example'))
    assert.deepEqual((await applied).policies.map((policy) => policy.pattern), ['https://b.example'])
    assert.equal(registry.policyFor('https://b.example')?.pattern, 'https://b.example')
  })

  it('sees a new file renamed onto it', async () => {
    const file = join(dir, 'destinations.yaml')
    writeFileSync(file, fileFor('https://a.example'))
    const registry = start(file, { watch: true })
    const applied = nextApplied(registry)
    writeFileSync(join(dir, '.destinations.yaml.tmp'), fileFor('https://c.example'))
    renameSync(join(dir, '.destinations.yaml.tmp'), file)
    assert.deepEqual((await applied).policies.map((policy) => policy.pattern), ['https://c.example'])
  })

  it('sees a Kubernetes ConfigMap update (the ..data symlink swapped)', async () => {
    // The kubelet's layout: file -> ..data/file, ..data -> ..<timestamp>/; an update writes a new
    // timestamped directory and renames a new ..data link over the old one.
    mkdirSync(join(dir, '..v1'))
    writeFileSync(join(dir, '..v1', 'destinations.yaml'), fileFor('https://a.example'))
    symlinkSync('..v1', join(dir, '..data'))
    symlinkSync(join('..data', 'destinations.yaml'), join(dir, 'destinations.yaml'))
    const registry = start(join(dir, 'destinations.yaml'), { watch: true })
    const applied = nextApplied(registry)
    mkdirSync(join(dir, '..v2'))
    writeFileSync(join(dir, '..v2', 'destinations.yaml'), fileFor('https://d.example'))
    symlinkSync('..v2', join(dir, '..data_tmp'))
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
    assert.deepEqual((await applied).policies.map((policy) => policy.pattern), ['https://d.example'])
  })

  it('logs one line for an invalid change, and keeps the set', async () => {
    const file = join(dir, 'destinations.yaml')
    writeFileSync(file, fileFor('https://a.example'))
    const registry = start(file, { watch: true })
    const before = registry.current()
    writeFileSync(file, 'destinations: [\n')
    const deadline = Date.now() + 5000
    while (registry.lastReload() === undefined && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(registry.lastReload()?.applied, false)
    assert.equal(registry.current(), before)
    assert.equal(logs.filter((line) => line.level >= 40).length, 1)
  })
})

describe('DestinationRegistry.recentOrigins', () => {
  it('lists the last origins each destination matched, newest first, a few at most', () => {
    const file = join(dir, 'destinations.yaml')
    writeFileSync(file, fileFor('https://*.acme.example', 'https://solo.example'))
    let now = 1_000_000
    const logger = pino({ level: 'silent' })
    const registry = new DestinationRegistry({ initial: readDestinationsFile(file, { sources }), logger, metrics: metrics(), sources, watch: false, now: () => now })
    registries.push(registry)
    for (let i = 1; i <= 7; i++) {
      now += 5000
      registry.policyFor(`https://h${i}.acme.example`)
    }
    now += 5000
    registry.policyFor('https://h3.acme.example')
    registry.policyFor('https://unknown.test')
    const [wildcard, solo] = registry.current().policies
    assert.deepEqual(
      registry.recentOrigins(wildcard!).map(({ origin }) => origin),
      ['https://h3.acme.example', 'https://h7.acme.example', 'https://h6.acme.example', 'https://h5.acme.example', 'https://h4.acme.example'],
    )
    assert.equal(registry.recentOrigins(wildcard!)[0]?.at, now)
    assert.deepEqual(registry.recentOrigins(solo!), [])
  })
})
