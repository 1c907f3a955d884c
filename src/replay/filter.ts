// Which dead letters a replay by filter takes: failed in a time range, for a callback
// origin, with an error code. Pure: parsed from what a person wrote (CLI flags, the admin
// API's JSON body, the dashboard's form) into one filter, matched against stored letters.
// Every condition given must hold (AND); several origins or codes mean any of them (OR).
import { originOfSetting } from '../config.ts'
import { ErrorCodes } from '../errors.ts'
import { parseDuration } from '../lib/duration.ts'
import type { StoredDeadLetter } from './dead-letters.ts'

export interface ReplayFilter {
  /** failed_at at or after this (ms since epoch); undefined: no lower bound. */
  readonly since: number | undefined
  /** failed_at before this (ms since epoch); undefined: no upper bound. */
  readonly until: number | undefined
  /** Callback origins (as URL.origin writes them); empty: any, poison records included. */
  readonly origins: ReadonlySet<string>
  /** Error codes of src/errors.ts; empty: any. */
  readonly codes: ReadonlySet<string>
}

export const NO_FILTER: ReplayFilter = { since: undefined, until: undefined, origins: new Set(), codes: new Set() }

/** What a person wrote: strings from the CLI, anything from a JSON body. */
export interface ReplayFilterInput {
  readonly since?: unknown
  readonly until?: unknown
  readonly origin?: unknown
  readonly code?: unknown
}

export interface ParseOptions {
  /** "Now" for relative times ("2h" = two hours before it). */
  readonly now: number
  /** How a field is named in a problem: "--" for the CLI, "" for the API. */
  readonly prefix: string
}

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCodes))
const RELATIVE = /^\d+(?:\.\d+)?(?:ms|s|m|h|d)$/
const ISO_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/** One filter from what was written, or one line saying what is wrong with it. */
export function parseReplayFilter(input: ReplayFilterInput, options: ParseOptions): { filter: ReplayFilter } | { problem: string } {
  try {
    const since = timeOf(input.since, 'since', options)
    const until = timeOf(input.until, 'until', options)
    if (since !== undefined && until !== undefined && since >= until) throw new FilterProblem(`${options.prefix}since must be before ${options.prefix}until`)
    const origins = new Set(listOf(input.origin, 'origin', options).map((text) => originOf(text, options.prefix)))
    const codes = new Set(listOf(input.code, 'code', options).map((text) => codeOf(text, options.prefix)))
    return { filter: { since, until, origins, codes } }
  } catch (error) {
    if (error instanceof FilterProblem) return { problem: error.message }
    throw error
  }
}

export function isEmptyFilter(filter: ReplayFilter): boolean {
  return filter.since === undefined && filter.until === undefined && filter.origins.size === 0 && filter.codes.size === 0
}

/** Whether a stored dead letter passes every condition of the filter. */
export function matchesFilter(filter: ReplayFilter, stored: StoredDeadLetter): boolean {
  const { letter } = stored
  if (!letter) return false
  if (filter.codes.size > 0 && !filter.codes.has(letter.code)) return false
  if (filter.since !== undefined || filter.until !== undefined) {
    // failed_at as written by the replica that gave up; the broker's time if it cannot be read.
    const parsed = Date.parse(letter.failed_at)
    const failedAt = Number.isNaN(parsed) ? stored.timestamp : parsed
    if (failedAt === undefined) return false
    if (filter.since !== undefined && failedAt < filter.since) return false
    if (filter.until !== undefined && failedAt >= filter.until) return false
  }
  if (filter.origins.size > 0) {
    const url = letter.notification?.callback_url
    const origin = url === undefined ? undefined : URL.parse(url)?.origin
    if (origin === undefined || !filter.origins.has(origin)) return false
  }
  return true
}

/** The filter as JSON (what the admin API answers, and accepts back). */
export function filterJson(filter: ReplayFilter): { since: string | null; until: string | null; origin: string[]; code: string[] } {
  return {
    since: filter.since === undefined ? null : new Date(filter.since).toISOString(),
    until: filter.until === undefined ? null : new Date(filter.until).toISOString(),
    origin: [...filter.origins],
    code: [...filter.codes],
  }
}

/** One line for people: "failed_at ≥ …, < …; origin …; code …", or "every dead letter". */
export function describeFilter(filter: ReplayFilter): string {
  const json = filterJson(filter)
  const parts = [
    json.since === null && json.until === null ? undefined : `failed ${json.since === null ? '' : `from ${json.since} `}${json.until === null ? '' : `until ${json.until}`}`.trim(),
    json.origin.length === 0 ? undefined : `origin ${json.origin.join(' or ')}`,
    json.code.length === 0 ? undefined : `code ${json.code.join(' or ')}`,
  ].filter((part) => part !== undefined)
  return parts.length === 0 ? 'every dead letter' : parts.join(', ')
}

class FilterProblem extends Error {}

function timeOf(value: unknown, name: string, { now, prefix }: ParseOptions): number | undefined {
  if (value === undefined || value === null) return undefined
  const problem = `${prefix}${name} ${JSON.stringify(value)}: not a time; write an ISO 8601 time (2026-12-03T10:00Z; UTC when no offset is given), "now", or a duration back from now (90m, 2h, 7d)`
  if (typeof value !== 'string') throw new FilterProblem(problem)
  const text = value.trim()
  if (text.toLowerCase() === 'now') return now
  if (RELATIVE.test(text)) return now - (parseDuration(text) ?? Number.NaN)
  const match = ISO_TIME.exec(text)
  if (!match) throw new FilterProblem(problem)
  const [, year, month, day, hour, , , zone] = match
  const ms = Date.parse(hour !== undefined && zone === undefined ? `${text.replace(' ', 'T')}Z` : text.replace(' ', 'T'))
  // Date.parse rolls 2026-02-30 over into March: the day must exist in its month.
  if (Number.isNaN(ms) || new Date(Date.UTC(Number(year), Number(month) - 1, Number(day))).getUTCDate() !== Number(day)) throw new FilterProblem(problem)
  return ms
}

function listOf(value: unknown, name: string, { prefix }: ParseOptions): string[] {
  if (value === undefined || value === null) return []
  const list = Array.isArray(value) ? (value as unknown[]) : [value]
  if (!list.every((item): item is string => typeof item === 'string')) throw new FilterProblem(`${prefix}${name} must be a string or a list of strings`)
  return list
}

function originOf(text: string, prefix: string): string {
  const origin = originOfSetting(text.trim())
  if (origin === undefined) throw new FilterProblem(`${prefix}origin ${JSON.stringify(text)}: not an origin; write scheme, host and port only, e.g. https://api.client.example`)
  return origin
}

function codeOf(text: string, prefix: string): string {
  const code = text.trim().toUpperCase()
  if (!KNOWN_CODES.has(code)) throw new FilterProblem(`${prefix}code ${JSON.stringify(text)}: not an error code of this service; one of ${[...KNOWN_CODES].join(', ')}`)
  return code
}
