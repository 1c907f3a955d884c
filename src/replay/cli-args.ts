// The replay CLI's arguments, read into one selection or one line saying what is wrong
// (exit 2) — pure, so every refusal is tested without a broker.
import { parseArgs } from 'node:util'
import { describeFilter, isEmptyFilter, parseReplayFilter, type ReplayFilter } from './filter.ts'

export const USAGE =
  'usage: npm run replay -- (--all | --id <processing_id> … | --since <time> | --until <time> | --origin <origin> … | --code <ERROR_CODE> …) [--include-poison] [--force] [--dry-run]'

export interface ReplayArgs {
  /** Only these processing ids; empty = any. */
  readonly ids: ReadonlySet<number>
  readonly filter: ReplayFilter
  readonly includePoison: boolean
  readonly force: boolean
  readonly dryRun: boolean
}

export type ParsedReplayArgs = { args: ReplayArgs } | { exit: 0 | 2; message: string }

/** `now` resolves relative times (`--since 2h`). */
export function parseReplayArgs(argv: readonly string[], now: number): ParsedReplayArgs {
  let values: ReturnType<typeof readOptions>
  try {
    values = readOptions(argv)
  } catch (error) {
    return { exit: 2, message: `${error instanceof Error ? error.message.split('\n')[0] : String(error)} (npm run replay -- --help)` }
  }
  if (values.help) return { exit: 0, message: USAGE }
  const ids = new Set(values.id.map(Number))
  if ([...ids].some((id) => !Number.isSafeInteger(id))) return { exit: 2, message: `--id takes integers, not ${values.id.map((id) => JSON.stringify(id)).join(', ')}` }
  const parsed = parseReplayFilter({ since: values.since, until: values.until, origin: values.origin, code: values.code }, { now, prefix: '--' })
  if ('problem' in parsed) return { exit: 2, message: parsed.problem }
  // A selection must be asked for: a replay of everything is --all, never the default.
  if (!values.all && ids.size === 0 && isEmptyFilter(parsed.filter)) return { exit: 2, message: USAGE }
  return { args: { ids, filter: parsed.filter, includePoison: values['include-poison'], force: values.force, dryRun: values['dry-run'] } }
}

function readOptions(argv: readonly string[]) {
  return parseArgs({
    args: [...argv],
    strict: true,
    allowPositionals: false,
    options: {
      all: { type: 'boolean', default: false },
      id: { type: 'string', multiple: true, default: [] },
      since: { type: 'string' },
      until: { type: 'string' },
      origin: { type: 'string', multiple: true, default: [] },
      code: { type: 'string', multiple: true, default: [] },
      'include-poison': { type: 'boolean', default: false },
      force: { type: 'boolean', default: false },
      'dry-run': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  }).values
}

/** One line: what the run selects, e.g. "notifications with processing_id 5, failed from …". */
export function describeSelection(args: ReplayArgs): string {
  const what = args.includePoison ? 'notifications and poison records' : 'notifications'
  const ids = args.ids.size === 0 ? '' : ` with processing_id ${[...args.ids].join(' or ')}`
  return `${what}${ids}; ${describeFilter(args.filter)}`
}
