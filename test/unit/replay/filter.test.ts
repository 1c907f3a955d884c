import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { DeadLetter } from '../../../src/notifications/records.ts'
import type { StoredDeadLetter } from '../../../src/replay/dead-letters.ts'
import { describeFilter, filterJson, matchesFilter, NO_FILTER, parseReplayFilter, type ReplayFilter, type ReplayFilterInput } from '../../../src/replay/filter.ts'
import { planReplay } from '../../../src/replay/replay.ts'

const NOW = Date.parse('2026-12-03T12:00:00.000Z')
const source = { topic: 'sending', partition: 0, offset: '5', key: 'new_sending', timestamp: null }

function given(processingId: number, options: { failedAt: string; url?: string; code?: string }): DeadLetter {
  return {
    reason: 'delivery given up',
    code: options.code ?? 'DELIVERY_HTTP_STATUS',
    source,
    original: '{}',
    original_truncated: false,
    processing_id: processingId,
    notification: { kind: 'result', processing_id: processingId, webhook_id: `processing_${processingId}`, callback_url: options.url ?? 'https://a.example/hook', body: '{}', is_error: false, error_code: null },
    attempts: 3,
    last_error: 'callback answered 503',
    last_status_code: 503,
    failed_at: options.failedAt,
  }
}

const poison: DeadLetter = { reason: 'not JSON', code: 'MESSAGE_NOT_JSON', source, original: '{x', original_truncated: false, processing_id: null, attempts: 0, last_error: null, last_status_code: null, failed_at: '2026-12-03T11:00:00.000Z' }
const stored = (letter: DeadLetter | undefined, offset = 0, timestamp?: number): StoredDeadLetter => ({ partition: 0, offset: String(offset), letter, ...(timestamp === undefined ? {} : { timestamp }) })

function parsed(input: ReplayFilterInput): ReplayFilter {
  const result = parseReplayFilter(input, { now: NOW, prefix: '--' })
  assert.ok('filter' in result, 'problem' in result ? result.problem : '')
  return result.filter
}

function problem(input: ReplayFilterInput, prefix = '--'): string {
  const result = parseReplayFilter(input, { now: NOW, prefix })
  assert.ok('problem' in result, `expected a problem for ${JSON.stringify(input)}`)
  assert.doesNotMatch(result.problem, /\n/, 'one line')
  return result.problem
}

describe('parseReplayFilter', () => {
  it('reads ISO 8601 times, UTC when no offset is given, and durations back from now', () => {
    assert.equal(parsed({ since: '2026-12-03T10:00Z' }).since, Date.parse('2026-12-03T10:00:00Z'))
    assert.equal(parsed({ since: '2026-12-03T10:00' }).since, Date.parse('2026-12-03T10:00:00Z'))
    assert.equal(parsed({ since: '2026-12-03 10:00:30.5+01:00' }).since, Date.parse('2026-12-03T09:00:30.500Z'))
    assert.equal(parsed({ since: '2026-12-03' }).since, Date.parse('2026-12-03T00:00:00Z'))
    assert.equal(parsed({ since: '2h' }).since, NOW - 2 * 3_600_000)
    assert.equal(parsed({ since: '90m', until: 'now' }).until, NOW)
    assert.equal(parsed({ since: '7d' }).since, NOW - 7 * 86_400_000)
    assert.deepEqual(parsed({}), NO_FILTER)
  })

  it('normalises origins as the origin settings do, and takes several origins and codes', () => {
    const filter = parsed({ origin: ['HTTPS://A.Example:443', 'http://b.example:8080/'], code: ['delivery_gone', 'DELIVERY_TIMEOUT'] })
    assert.deepEqual([...filter.origins], ['https://a.example', 'http://b.example:8080'])
    assert.deepEqual([...filter.codes], ['DELIVERY_GONE', 'DELIVERY_TIMEOUT'])
    assert.deepEqual([...parsed({ origin: 'https://a.example', code: 'DELIVERY_GONE' }).codes], ['DELIVERY_GONE'])
  })

  it('answers one line naming the field for what it cannot read', () => {
    assert.match(problem({ since: 'yesterday' }), /^--since "yesterday": not a time/)
    assert.match(problem({ since: '5' }), /^--since "5": not a time/, 'a duration needs its unit')
    assert.match(problem({ until: '2026-02-30' }), /^--until "2026-02-30": not a time/, 'a day that does not exist')
    assert.match(problem({ until: '2026-13-01T00:00Z' }), /^--until/)
    assert.match(problem({ since: 1_800_000_000_000 }, ''), /^since 1800000000000: not a time/)
    assert.match(problem({ since: '1h', until: '2h' }), /^--since must be before --until$/)
    assert.match(problem({ origin: 'https://a.example/hook' }), /^--origin "https:\/\/a.example\/hook": not an origin/)
    assert.match(problem({ origin: 'ftp://a.example' }), /not an origin/)
    assert.match(problem({ code: 'HTTP_500' }), /^--code "HTTP_500": not an error code of this service; one of .*DELIVERY_GONE/)
    assert.match(problem({ code: ['DELIVERY_GONE', 7] }, ''), /^code must be a string or a list of strings$/)
  })
})

describe('matchesFilter', () => {
  const early = stored(given(1, { failedAt: '2026-12-03T09:59:59.999Z' }))
  const start = stored(given(2, { failedAt: '2026-12-03T10:00:00.000Z' }))
  const end = stored(given(3, { failedAt: '2026-12-03T11:00:00.000Z' }))

  it('takes failed_at from since (inclusive) to until (exclusive)', () => {
    const filter = parsed({ since: '2026-12-03T10:00Z', until: '2026-12-03T11:00Z' })
    assert.deepEqual([early, start, end].map((letter) => matchesFilter(filter, letter)), [false, true, false])
  })

  it("falls back to the broker's time when failed_at cannot be read", () => {
    const filter = parsed({ since: '2026-12-03T10:00Z' })
    assert.equal(matchesFilter(filter, stored(given(4, { failedAt: 'garbage' }), 0, Date.parse('2026-12-03T10:30Z'))), true)
    assert.equal(matchesFilter(filter, stored(given(4, { failedAt: 'garbage' }), 0, Date.parse('2026-12-03T09:30Z'))), false)
    assert.equal(matchesFilter(filter, stored(given(4, { failedAt: 'garbage' }))), false)
  })

  it("matches the callback URL's origin; a poison record has none", () => {
    const filter = parsed({ origin: 'https://b.example' })
    assert.equal(matchesFilter(filter, stored(given(5, { failedAt: '2026-12-03T10:00Z', url: 'https://B.example:443/x?y' }))), true)
    assert.equal(matchesFilter(filter, stored(given(6, { failedAt: '2026-12-03T10:00Z', url: 'https://b.example:8443/x' }))), false)
    assert.equal(matchesFilter(filter, stored(poison)), false)
    assert.equal(matchesFilter(NO_FILTER, stored(poison)), true)
    assert.equal(matchesFilter(NO_FILTER, stored(undefined)), false)
  })

  it('matches any of the codes, and every condition together', () => {
    const gone = stored(given(7, { failedAt: '2026-12-03T10:30Z', code: 'DELIVERY_GONE' }))
    const goneElsewhere = stored(given(8, { failedAt: '2026-12-03T10:30Z', code: 'DELIVERY_GONE', url: 'https://c.example/' }))
    const goneEarlier = stored(given(9, { failedAt: '2026-12-03T08:30Z', code: 'DELIVERY_GONE' }))
    assert.deepEqual([gone, start, stored(poison)].map((letter) => matchesFilter(parsed({ code: ['DELIVERY_GONE', 'MESSAGE_NOT_JSON'] }), letter)), [true, false, true])
    const all = parsed({ since: '2026-12-03T10:00Z', origin: 'https://a.example', code: 'DELIVERY_GONE' })
    assert.deepEqual([gone, goneElsewhere, goneEarlier, start].map((letter) => matchesFilter(all, letter)), [true, false, false, false])
  })

  it('narrows planReplay together with processing ids and --include-poison', () => {
    const letters = [early, start, end, stored(poison, 9)]
    const filter = parsed({ since: '2026-12-03T10:00Z' })
    const plan = (processingIds: number[], includePoison: boolean) => planReplay(letters, { processingIds: new Set(processingIds), includePoison, filter }).map((action) => action.letter.processing_id)
    assert.deepEqual(plan([], false), [2, 3])
    assert.deepEqual(plan([], true), [2, 3, null])
    assert.deepEqual(plan([1, 3], true), [3])
  })
})

describe('filterJson and describeFilter', () => {
  it('writes the filter back as the API accepts it, and says it in a line', () => {
    const filter = parsed({ since: '2h', origin: 'https://a.example', code: ['DELIVERY_GONE', 'DELIVERY_TIMEOUT'] })
    const json = filterJson(filter)
    assert.deepEqual(json, { since: '2026-12-03T10:00:00.000Z', until: null, origin: ['https://a.example'], code: ['DELIVERY_GONE', 'DELIVERY_TIMEOUT'] })
    assert.deepEqual(parsed(json), filter, 'what the API answers, it accepts back unchanged')
    assert.equal(describeFilter(filter), 'failed from 2026-12-03T10:00:00.000Z, origin https://a.example, code DELIVERY_GONE or DELIVERY_TIMEOUT')
    assert.equal(describeFilter(NO_FILTER), 'every dead letter')
  })
})
