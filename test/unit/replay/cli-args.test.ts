import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { describeSelection, parseReplayArgs, USAGE, type ReplayArgs } from '../../../src/replay/cli-args.ts'

const NOW = Date.parse('2026-12-03T12:00:00.000Z')

function args(argv: string[]): ReplayArgs {
  const parsed = parseReplayArgs(argv, NOW)
  assert.ok('args' in parsed, 'message' in parsed ? parsed.message : '')
  return parsed.args
}

function refusal(argv: string[]): { exit: number; message: string } {
  const parsed = parseReplayArgs(argv, NOW)
  assert.ok('exit' in parsed, `expected ${argv.join(' ')} to be refused`)
  assert.doesNotMatch(parsed.message, /\n/, 'one line')
  return parsed
}

describe('parseReplayArgs', () => {
  it('combines filters with --id, --include-poison, --force and --dry-run', () => {
    const parsed = args(['--since', '2h', '--until', '2026-12-03T11:30Z', '--origin', 'https://a.example', '--code', 'DELIVERY_GONE', '--code', 'delivery_timeout', '--id', '7', '--include-poison', '--force', '--dry-run'])
    assert.equal(parsed.filter.since, NOW - 2 * 3_600_000)
    assert.equal(parsed.filter.until, Date.parse('2026-12-03T11:30Z'))
    assert.deepEqual([...parsed.filter.origins], ['https://a.example'])
    assert.deepEqual([...parsed.filter.codes], ['DELIVERY_GONE', 'DELIVERY_TIMEOUT'])
    assert.deepEqual([...parsed.ids], [7])
    assert.deepEqual([parsed.includePoison, parsed.force, parsed.dryRun], [true, true, true])
    assert.equal(describeSelection(parsed), 'notifications and poison records with processing_id 7; failed from 2026-12-03T10:00:00.000Z until 2026-12-03T11:30:00.000Z, origin https://a.example, code DELIVERY_GONE or DELIVERY_TIMEOUT')
  })

  it('takes a filter alone as a selection; without --all, --id or a filter it shows the usage', () => {
    assert.equal(args(['--code', 'DELIVERY_GONE']).ids.size, 0)
    assert.equal(describeSelection(args(['--all'])), 'notifications; every dead letter')
    assert.deepEqual(refusal([]), { exit: 2, message: USAGE })
    assert.deepEqual(refusal(['--dry-run']), { exit: 2, message: USAGE })
    assert.deepEqual(refusal(['--help']), { exit: 0, message: USAGE })
  })

  it('refuses a bad filter or argument with one line and exit 2', () => {
    assert.deepEqual(refusal(['--since', 'yesterday']).exit, 2)
    assert.match(refusal(['--since', 'yesterday']).message, /^--since "yesterday": not a time/)
    assert.match(refusal(['--all', '--code', 'NOPE']).message, /^--code "NOPE": not an error code/)
    assert.match(refusal(['--origin', 'https://a.example/path']).message, /^--origin .*not an origin/)
    assert.match(refusal(['--id', 'abc']).message, /^--id takes integers, not "abc"$/)
    assert.match(refusal(['--all', '--sinse', '2h']).message, /Unknown option '--sinse'.*--help/)
    assert.match(refusal(['--since']).message, /--since.*argument missing/)
    assert.equal(refusal(['--all', 'extra']).exit, 2)
  })
})
