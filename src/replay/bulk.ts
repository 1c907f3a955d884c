// Replay of many dead letters at once (the CLI, the admin API, the dashboard), in two steps
// so that a person sees the count before anything is sent: count what a selection takes,
// then replay exactly the letters counted (up to the offsets the count read to; letters
// written since are left for the next run). Both read the topic one fetch at a time.
import type { NotificationStore } from '../store/notification-store.ts'
import { replayedKey } from '../names.ts'
import type { DeadLetterReader, ScanProgress } from './dead-letters.ts'
import { planReplay, replay, type ReplayAction, type ReplayDeps, type ReplayReport, type ReplaySelection } from './replay.ts'

export interface SelectionCount {
  /** Dead letters read. */
  read: number
  /** Of them, those the selection replays. */
  selected: number
  notifications: number
  poison: number
  /** Of the selected, those replayed before (skipped unless forced); undefined when not asked. */
  alreadyReplayed: number | undefined
  /** Where the count stopped in each partition: hand it to replaySelection. */
  upTo: ReadonlyMap<number, bigint>
}

export interface CountOptions {
  /** Given: also count the selected letters replayed before. */
  store?: NotificationStore
  /** Called with each fetch's selected letters (the CLI's dry run lists them, and draws progress). */
  onActions?: (actions: readonly ReplayAction[], progress: ScanProgress) => void
}

/** Counts what a selection replays, sending nothing. */
export async function countSelection(reader: DeadLetterReader, selection: ReplaySelection, options: CountOptions = {}): Promise<SelectionCount> {
  const { store, onActions } = options
  const count = { selected: 0, notifications: 0, poison: 0, alreadyReplayed: store ? 0 : undefined }
  const { read, ends } = await reader.scan(async (letters, progress) => {
    const actions = planReplay(letters, selection)
    count.selected += actions.length
    for (const action of actions) count[action.kind === 'poison' ? 'poison' : 'notifications']++
    if (store && count.alreadyReplayed !== undefined && actions.length > 0) {
      const replayed = await store.wereReplayed(actions.map((action) => replayedKey(reader.topic, action.stored.partition, action.stored.offset)))
      count.alreadyReplayed += replayed.filter(Boolean).length
    }
    onActions?.(actions, progress)
  })
  return { read, ...count, upTo: ends }
}

export interface ReplaySelectionOptions {
  force: boolean
  /** From countSelection: replay only what was counted. */
  upTo?: ReadonlyMap<number, bigint>
  onProgress?: (progress: ScanProgress) => void
}

/** Replays what a selection takes (each dead letter once unless forced; see replay.ts). */
export async function replaySelection(reader: DeadLetterReader, deps: ReplayDeps, selection: ReplaySelection, options: ReplaySelectionOptions): Promise<ReplayReport & { selected: number }> {
  const report = { selected: 0, replayed: 0, alreadyReplayed: 0 }
  await reader.scan(async (letters, progress) => {
    const actions = planReplay(letters, selection)
    const done = await replay(actions, deps, { force: options.force })
    report.selected += actions.length
    report.replayed += done.replayed
    report.alreadyReplayed += done.alreadyReplayed
    options.onProgress?.(progress)
  }, options.upTo)
  return report
}
