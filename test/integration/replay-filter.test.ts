// Replay by filter against the real broker, Redis and a running service: from the CLI (the
// real entry point as a child process) and from the admin API, the count comes first and
// sends nothing; then exactly the dead letters the filter matches are sent again, each once,
// and none other; a second run sends none; a bad filter is one line (exit 2, or 422).
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { after, before, describe, test } from 'node:test'
import { firstTierRecords, produceFilterFixture, type FilterFixture } from '../helpers/dead-letters.ts'
import { uniqueTopics } from '../helpers/kafka.ts'
import { startReceiver, type Receiver } from '../helpers/receiver.ts'
import { ROOT, allCommitted, startService, testEnv } from '../helpers/service.ts'

const TOKEN = 'replay-filter-test-token-0123456789'
const SCHEDULE = { RETRY_SCHEDULE: '100ms' }
let receiver: Receiver

before(async () => {
  receiver = await startReceiver()
})

after(async () => {
  await receiver?.close()
})

const sent = (path: string) => receiver.requests.filter((request) => request.path === path).length

/** Once everything is committed nothing more can be sent: each matching letter arrived once, no other at all. */
async function assertExactlyMatchingSent(env: Record<string, string>, fixture: FilterFixture): Promise<void> {
  await receiver.waitFor(2, 20_000, (request) => fixture.paths.matching.includes(request.path))
  await allCommitted(env)
  assert.deepEqual(fixture.paths.matching.map(sent), [1, 1], 'each matching dead letter sent once')
  assert.deepEqual(fixture.paths.others.map(sent), [0, 0, 0, 0], 'no other dead letter sent')
}

async function runReplay(env: Record<string, string>, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [`${ROOT}src/replay/cli.ts`, ...args], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk))
  const [code] = (await once(child, 'exit')) as [number | null]
  return { code, output }
}

describe('replay by filter', () => {
  test('CLI: a bad filter is one line and exit 2; --dry-run prints the count and sends nothing; the replay sends exactly the matching letters, once', async () => {
    const topics = uniqueTopics('replayfilter')
    const env = testEnv(topics, SCHEDULE)
    const service = await startService(env)
    try {
      const fixture = await produceFilterFixture(topics, receiver.url)
      const { since, until, origin, code } = fixture.filter
      const filterArgs = ['--since', since, '--until', until, '--origin', origin, ...code.flatMap((one) => ['--code', one])]

      const bad = await runReplay(env, ['--since', 'yesterday'])
      assert.equal(bad.code, 2)
      assert.match(bad.output, /^--since "yesterday": not a time[^\n]*\n$/)
      const badCode = await runReplay(env, ['--all', '--code', 'HTTP_500'])
      assert.equal(badCode.code, 2)
      assert.match(badCode.output, /^--code "HTTP_500": not an error code of this service[^\n]*\n$/)

      const dry = await runReplay(env, [...filterArgs, '--dry-run'])
      assert.equal(dry.code, 0, dry.output)
      assert.match(dry.output, /7 dead letter\(s\) read; 2 selected \(2 notification\(s\), 0 poison record\(s\)\)/)
      assert.equal(dry.output.match(/would replay notification/g)?.length, 2)
      // The CLI has exited: whatever it produced is in the tier now.
      assert.equal(await firstTierRecords(topics, [100]), 0, 'a dry run sends nothing')

      const poison = await runReplay(env, ['--code', 'MESSAGE_NOT_JSON', '--include-poison', '--dry-run'])
      assert.match(poison.output, /1 selected \(0 notification\(s\), 1 poison record\(s\)\)/)

      const first = await runReplay(env, filterArgs)
      assert.equal(first.code, 0, first.output)
      // The count is printed before the replay starts.
      assert.match(first.output, /2 selected \(2 notification\(s\), 0 poison record\(s\)\), 0 of them replayed before[\s\S]*replayed 2; skipped 0/)
      assert.equal(await firstTierRecords(topics, [100]), 2, 'two notifications sent again')
      await assertExactlyMatchingSent(env, fixture)

      const second = await runReplay(env, filterArgs)
      assert.match(second.output, /2 of them replayed before[\s\S]*replayed 0; skipped 2 already replayed/)
      assert.equal(await firstTierRecords(topics, [100]), 2, 'a second run sends none')
    } finally {
      await service.close()
    }
  })

  test('admin API: dry_run answers the count and sends nothing; the filter replays exactly the matching letters, once; a bad filter is 422 with one line', async () => {
    const topics = uniqueTopics('replayfilterapi')
    const env = testEnv(topics, { ...SCHEDULE, ADMIN_TOKEN: TOKEN })
    const service = await startService(env)
    const replayUrl = `http://127.0.0.1:${service.app.httpPort}/admin/dead-letters/replay`
    const post = async (body: unknown) => {
      const response = await fetch(replayUrl, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
      return { status: response.status, body: (await response.json()) as Record<string, unknown> }
    }
    try {
      const fixture = await produceFilterFixture(topics, receiver.url)

      const bad = await post({ ...fixture.filter, since: 'yesterday' })
      assert.equal(bad.status, 422)
      assert.match(String(bad.body.error), /^since "yesterday": not a time[^\n]*$/)
      assert.equal((await post({ sinse: '2h' })).status, 422)

      const count = await post({ ...fixture.filter, dry_run: true })
      assert.equal(count.status, 200)
      assert.deepEqual(count.body, {
        dry_run: true,
        selected: 2,
        notifications: 2,
        poison: 0,
        alreadyReplayed: 0,
        filter: { since: fixture.filter.since, until: fixture.filter.until, origin: [fixture.filter.origin], code: fixture.filter.code },
      })
      assert.equal(await firstTierRecords(topics, [100]), 0, 'counting sends nothing')

      const replayed = await post(count.body.filter)
      assert.deepEqual(replayed, { status: 200, body: { selected: 2, replayed: 2, alreadyReplayed: 0 } })
      assert.equal(await firstTierRecords(topics, [100]), 2)
      await assertExactlyMatchingSent(env, fixture)

      assert.deepEqual((await post({ ...fixture.filter, dry_run: true })).body.alreadyReplayed, 2)
      assert.deepEqual((await post(fixture.filter)).body, { selected: 2, replayed: 0, alreadyReplayed: 2 })
      assert.equal(await firstTierRecords(topics, [100]), 2, 'a second replay sends none')
    } finally {
      await service.close()
    }
  })
})
