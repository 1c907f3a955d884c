// The body of POST /admin/dead-letters/replay, read into a selection: no body replays every
// dead-lettered notification (as before filters existed); a JSON object narrows it
// (replay/filter.ts) and says whether poison records are included, whether letters replayed
// before go again, and whether only to count. Pure; a bad body is one line (422).
import { AdminRequestError } from '../errors.ts'
import { parseReplayFilter, type ReplayFilter } from '../replay/filter.ts'
import type { ReplaySelection } from '../replay/replay.ts'

export interface ReplayRequest {
  readonly selection: ReplaySelection & { readonly filter: ReplayFilter }
  readonly force: boolean
  /** Only count what would be replayed. */
  readonly dryRun: boolean
}

const FIELDS = ['since', 'until', 'origin', 'code', 'include_poison', 'force', 'dry_run'] as const
const FLAGS = ['include_poison', 'force', 'dry_run'] as const

/** `now` resolves relative times ("since": "2h"). Throws AdminRequestError('invalid') with one line. */
export function replayRequest(body: unknown, now: number): ReplayRequest {
  const fields = body ?? {}
  if (typeof fields !== 'object' || Array.isArray(fields)) throw invalid(`the body must be a JSON object with any of ${FIELDS.join(', ')}`)
  const record = fields as Record<string, unknown>
  const unknown = Object.keys(record).find((key) => !(FIELDS as readonly string[]).includes(key))
  if (unknown !== undefined) throw invalid(`unknown field ${JSON.stringify(unknown)}; the fields are ${FIELDS.join(', ')}`)
  const flag = FLAGS.find((name) => record[name] !== undefined && typeof record[name] !== 'boolean')
  if (flag !== undefined) throw invalid(`${flag} must be true or false`)
  const parsed = parseReplayFilter(record, { now, prefix: '' })
  if ('problem' in parsed) throw invalid(parsed.problem)
  return {
    selection: { processingIds: new Set(), includePoison: record.include_poison === true, filter: parsed.filter },
    force: record.force === true,
    dryRun: record.dry_run === true,
  }
}

function invalid(problem: string): AdminRequestError {
  return new AdminRequestError('invalid', problem)
}
