// npm run replay -- (--all | --id <processing_id> ...) [--include-poison] [--force] [--dry-run]
// Sends dead-lettered notifications again (see replay.ts), with a progress bar.
import { parseArgs } from 'node:util'
import { SingleBar, Presets } from 'cli-progress'
import { loadConfigOrExit } from '../config.ts'
import { kafkaConnection } from '../kafka/connection.ts'
import { Publisher } from '../kafka/publisher.ts'
import { retryTiers } from '../names.ts'
import { NotificationStore } from '../store/notification-store.ts'
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

const config = loadConfigOrExit()

const bar = new SingleBar({ format: '{task} [{bar}] {value}/{total}', hideCursor: true, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 2000 }, Presets.shades_classic)
const topic = config.kafka.topics.deadLetter
const [firstTier] = retryTiers(config.kafka.groupId, config.retryScheduleMs)
const reader = new DeadLetterReader({ connection: kafkaConnection(config.kafka), topic, clientId: 'notification-replay' })
const store = new NotificationStore(config.redis, config.processedTtlSeconds)
const publisher = new Publisher({ connection: kafkaConnection(config.kafka), clientId: 'notification-replay', topics: config.kafka.topics })
const deps = { store, publisher, firstTier, deadLetterTopic: topic }
const dryRun = values['dry-run']
const counts = { notifications: 0, poison: 0, replayed: 0, alreadyReplayed: 0 }
try {
  if (!dryRun) await store.connect()
  bar.start(0, 0, { task: dryRun ? `reading ${topic}` : `replaying from ${topic}` })
  // One fetch at a time: the topic is never held in memory as a whole.
  const { read } = await reader.scan(async (letters, progress) => {
    const actions = planReplay(letters, { processingIds: ids, includePoison: values['include-poison'] })
    for (const action of actions) counts[action.kind === 'poison' ? 'poison' : 'notifications']++
    if (dryRun) {
      for (const action of actions) console.log(`  would replay ${action.kind} partition ${action.stored.partition} offset ${action.stored.offset}: ${action.letter.reason}`)
    } else {
      const report = await replay(actions, deps, { force: values.force })
      counts.replayed += report.replayed
      counts.alreadyReplayed += report.alreadyReplayed
    }
    bar.setTotal(progress.total)
    bar.update(progress.read)
  })
  bar.stop()
  console.log(`${read} dead letter(s) read; ${counts.notifications + counts.poison} selected (${counts.notifications} notification(s), ${counts.poison} poison record(s))`)
  if (!dryRun) console.log(`replayed ${counts.replayed}; skipped ${counts.alreadyReplayed} already replayed (--force to send again)`)
} finally {
  bar.stop()
  await Promise.allSettled([reader.close(), publisher.close()])
  await store.close()
}
