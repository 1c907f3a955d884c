// npm run replay -- (--all | --id <processing_id> … | --since/--until <time> | --origin <origin> … | --code <CODE> …)
//                   [--include-poison] [--force] [--dry-run]
// Sends dead-lettered notifications again (see replay.ts), with a progress bar. First it
// counts what the selection takes and prints the count; --dry-run lists them and stops
// there; otherwise exactly the letters counted are replayed. A bad argument: one line, exit 2.
import { SingleBar, Presets } from 'cli-progress'
import { loadConfigOrExit } from '../config.ts'
import { kafkaConnection } from '../kafka/connection.ts'
import { Publisher } from '../kafka/publisher.ts'
import { retryTiers } from '../names.ts'
import { NotificationStore } from '../store/notification-store.ts'
import { countSelection, replaySelection } from './bulk.ts'
import { describeSelection, parseReplayArgs } from './cli-args.ts'
import { DeadLetterReader, type ScanProgress } from './dead-letters.ts'
import type { ReplayAction } from './replay.ts'

const parsed = parseReplayArgs(process.argv.slice(2), Date.now())
if ('exit' in parsed) {
  if (parsed.exit === 0) console.log(parsed.message)
  else console.error(parsed.message)
  process.exit(parsed.exit)
}
const { args } = parsed

const config = loadConfigOrExit()

const bar = new SingleBar({ format: '{task} [{bar}] {value}/{total}', hideCursor: true, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 2000 }, Presets.shades_classic)
const showProgress = (progress: ScanProgress) => {
  bar.setTotal(progress.total)
  bar.update(progress.read)
}
const topic = config.kafka.topics.deadLetter
const [firstTier] = retryTiers(config.kafka.groupId, config.retryScheduleMs)
const reader = new DeadLetterReader({ connection: kafkaConnection(config.kafka), topic, clientId: 'notification-replay' })
const store = new NotificationStore(config.redis, config.processedTtlSeconds)
const publisher = new Publisher({ connection: kafkaConnection(config.kafka), clientId: 'notification-replay', topics: config.kafka.topics })
const selection = { processingIds: args.ids, includePoison: args.includePoison, filter: args.filter }
try {
  if (!args.dryRun) await store.connect()
  console.log(`selecting from ${topic}: ${describeSelection(args)}`)
  bar.start(0, 0, { task: `counting in ${topic}` })
  // One fetch at a time: the topic is never held in memory as a whole.
  const count = await countSelection(reader, selection, {
    ...(args.dryRun ? {} : { store }),
    onActions: (actions: readonly ReplayAction[], progress: ScanProgress) => {
      if (args.dryRun) for (const action of actions) console.log(`  would replay ${action.kind} partition ${action.stored.partition} offset ${action.stored.offset}: ${action.letter.reason}`)
      showProgress(progress)
    },
  })
  bar.stop()
  const before = count.alreadyReplayed === undefined ? '' : `, ${count.alreadyReplayed} of them replayed before`
  console.log(`${count.read} dead letter(s) read; ${count.selected} selected (${count.notifications} notification(s), ${count.poison} poison record(s))${before}`)
  if (!args.dryRun) {
    bar.start(0, 0, { task: `replaying from ${topic}` })
    const report = await replaySelection(reader, { store, publisher, firstTier, deadLetterTopic: topic }, selection, { force: args.force, upTo: count.upTo, onProgress: showProgress })
    bar.stop()
    console.log(`replayed ${report.replayed}; skipped ${report.alreadyReplayed} already replayed (--force to send again)`)
  }
} finally {
  bar.stop()
  await Promise.allSettled([reader.close(), publisher.close()])
  await store.close()
}
