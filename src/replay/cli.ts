// npm run replay -- (--all | --id <processing_id> ...) [--include-poison] [--force] [--dry-run]
// Sends dead-lettered notifications again (see replay.ts), with a progress bar.
import { parseArgs } from 'node:util'
import { SingleBar, Presets } from 'cli-progress'
import { loadConfig, loadDotEnv } from '../config.ts'
import { DedupStore } from '../dedup/store.ts'
import { ConfigError, describeError } from '../errors.ts'
import { Publisher } from '../kafka/publisher.ts'
import { retryTiers } from '../names.ts'
import { DeadLetterReader } from './dead-letters.ts'
import { planReplay, replay } from './replay.ts'

const USAGE = 'usage: npm run replay -- (--all | --id <processing_id> [--id …]) [--include-poison] [--force] [--dry-run]'

const { values } = parseArgs({
  options: {
    all: { type: 'boolean', default: false },
    id: { type: 'string', multiple: true, default: [] },
    'include-poison': { type: 'boolean', default: false },
    force: { type: 'boolean', default: false },
    'dry-run': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
})
if (values.help || (!values.all && values.id.length === 0)) {
  console.error(USAGE)
  process.exit(values.help ? 0 : 2)
}
const ids = new Set(values.id.map(Number))
if ([...ids].some((id) => !Number.isSafeInteger(id))) {
  console.error(`--id takes integers. ${USAGE}`)
  process.exit(2)
}

let config
try {
  loadDotEnv()
  config = loadConfig(process.env)
} catch (error) {
  console.error(error instanceof ConfigError ? `Invalid configuration: ${error.message}` : describeError(error))
  process.exit(78)
}

const bar = new SingleBar({ format: '{task} [{bar}] {value}/{total}', hideCursor: true, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 2000 }, Presets.shades_classic)
const topic = config.kafka.topics.deadLetter
bar.start(0, 0, { task: `reading ${topic}` })
const reader = new DeadLetterReader({ brokers: config.kafka.brokers, topic, clientId: 'notification-replay' })
const letters = await reader
  .all((read, total) => {
    bar.setTotal(total)
    bar.update(read)
  })
  .finally(() => reader.close())
bar.stop()

const actions = planReplay(letters, { processingIds: ids, includePoison: values['include-poison'] })
const poison = actions.filter((action) => action.kind === 'poison').length
console.log(`${letters.length} dead letter(s) read; ${actions.length} selected (${actions.length - poison} notification(s), ${poison} poison record(s))`)
if (values['dry-run'] || actions.length === 0) {
  for (const action of actions) console.log(`  would replay ${action.kind} partition ${action.stored.partition} offset ${action.stored.offset}: ${action.letter.reason}`)
  process.exit(0)
}

const [firstTier] = retryTiers(config.kafka.groupId, config.retryScheduleMs)
if (!firstTier) throw new Error('RETRY_SCHEDULE is empty')
const store = new DedupStore(config.redisUrl, config.processedTtlSeconds)
const publisher = new Publisher({ brokers: config.kafka.brokers, clientId: 'notification-replay', topics: config.kafka.topics })
try {
  await store.connect()
  bar.start(actions.length, 0, { task: 'replaying' })
  const report = await replay(
    actions,
    { store, publisher, firstTier, deadLetterTopic: topic, produceRaw: (t, key, value) => publisher.republish(t, key, value) },
    { force: values.force },
    (done) => bar.update(done),
  )
  bar.stop()
  console.log(`replayed ${report.replayed}; skipped ${report.alreadyReplayed} already replayed (--force to send again)`)
} finally {
  await publisher.close()
  await store.close()
}
