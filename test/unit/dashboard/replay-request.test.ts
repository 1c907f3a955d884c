import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { replayRequest } from '../../../src/dashboard/replay-request.ts'
import { AdminRequestError } from '../../../src/errors.ts'
import { NO_FILTER } from '../../../src/replay/filter.ts'

const NOW = Date.parse('2026-12-03T12:00:00.000Z')

function refused(body: unknown): string {
  try {
    replayRequest(body, NOW)
  } catch (error) {
    assert.ok(error instanceof AdminRequestError)
    assert.equal(error.refusal, 'invalid', 'answered 422')
    assert.doesNotMatch(error.message, /\n/)
    return error.message
  }
  assert.fail(`expected ${JSON.stringify(body)} to be refused`)
}

describe('replayRequest', () => {
  it('without a body: every dead-lettered notification, no poison, not forced (as before filters)', () => {
    for (const body of [undefined, {}]) {
      const request = replayRequest(body, NOW)
      assert.deepEqual(request.selection, { processingIds: new Set(), includePoison: false, filter: NO_FILTER })
      assert.deepEqual([request.force, request.dryRun], [false, false])
    }
  })

  it('reads the filter and the flags', () => {
    const request = replayRequest({ since: '2h', origin: 'https://a.example', code: ['DELIVERY_GONE'], include_poison: true, force: true, dry_run: true }, NOW)
    assert.equal(request.selection.filter.since, NOW - 2 * 3_600_000)
    assert.deepEqual([...request.selection.filter.origins], ['https://a.example'])
    assert.deepEqual([request.selection.includePoison, request.force, request.dryRun], [true, true, true])
  })

  it('refuses a bad body with one line', () => {
    assert.match(refused([1]), /^the body must be a JSON object/)
    assert.match(refused('all'), /^the body must be a JSON object/)
    assert.match(refused({ sinse: '2h' }), /^unknown field "sinse"; the fields are since, until/)
    assert.match(refused({ dry_run: 'yes' }), /^dry_run must be true or false$/)
    assert.match(refused({ until: 'tomorrow' }), /^until "tomorrow": not a time/)
    assert.match(refused({ code: 'OOPS' }), /^code "OOPS": not an error code/)
  })
})
