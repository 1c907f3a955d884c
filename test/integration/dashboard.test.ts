// The dashboard in a real headless Chromium (Debian's, driven by playwright-core) against a
// service on the real broker and Redis: it is off without ADMIN_TOKEN, asks for the token,
// its chart and recent attempts follow notifications as they flow, its replay button
// sends a dead-lettered notification again, and its filter form counts the matching dead
// letters and, confirmed, replays exactly those. Replay of all is checked through the same API.
// Its Destinations section lists CALLBACK_DESTINATIONS_FILE without a secret, the origins each
// destination matched, and a refused reload.
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, test } from 'node:test'
import { chromium, type Browser, type Page } from 'playwright-core'
import { firstTierRecords, produceFilterFixture } from '../helpers/dead-letters.ts'
import { newProcessingId, successResult } from '../helpers/messages.ts'
import { produce, readTopic, uniqueTopics } from '../helpers/kafka.ts'
import { startReceiver, type Receiver } from '../helpers/receiver.ts'
import { ROOT, allCommitted, startService, testEnv, waitUntil, type RunningService } from '../helpers/service.ts'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const TOKEN = 'dashboard-test-token-0123456789'
/** Callback paths under /gone/ answer 410 (final: dead-lettered at once) until the test says otherwise. */
const GONE = '/gone/'
const SCREENSHOT = `${ROOT}test-results/dashboard.png`

let receiver: Receiver
let browser: Browser
const healed = new Set<string>()

before(async () => {
  receiver = await startReceiver((request) => ({ status: request.path.startsWith(GONE) && !healed.has(request.path) ? 410 : 200 }))
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
})

after(async () => {
  await browser?.close()
  await receiver?.close()
})

const base = (service: RunningService) => `http://127.0.0.1:${service.app.httpPort}`
const results = (ids: number[], path: (id: number) => string) =>
  ids.map((id) => ({ key: 'new_sending', value: JSON.stringify(successResult(id, `${receiver.url}${path(id)}`)) }))

async function signIn(page: Page, service: RunningService, token: string): Promise<void> {
  await page.goto(`${base(service)}/dashboard`)
  await page.fill('#token', token)
  await page.click('#login-form button[type=submit]')
}

describe('dashboard', () => {
  test('without ADMIN_TOKEN the dashboard and the admin API are off (404), not open', async () => {
    const service = await startService(testEnv(uniqueTopics('noadmin')))
    try {
      for (const path of ['/dashboard', '/dashboard/assets/dashboard.js', '/admin/activity', '/admin/dead-letters', '/admin/destinations']) {
        assert.equal((await fetch(`${base(service)}${path}`)).status, 404, path)
      }
      assert.equal((await fetch(`${base(service)}/admin/dead-letters/replay`, { method: 'POST' })).status, 404)
    } finally {
      await service.close()
    }
  })

  test('in Chromium: token asked, chart and recent attempts follow the flow, a dead letter is replayed with its button', async () => {
    const topics = uniqueTopics('dashboard')
    const service = await startService(testEnv(topics, { ADMIN_TOKEN: TOKEN }))
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } })
    const pageErrors: string[] = []
    page.on('pageerror', (error) => pageErrors.push(error.message))
    try {
      // Data and actions need the token; the page itself holds none.
      assert.equal((await fetch(`${base(service)}/admin/activity`)).status, 401)
      assert.equal((await fetch(`${base(service)}/admin/destinations`)).status, 401)
      const destinations = await fetch(`${base(service)}/admin/destinations`, { headers: { authorization: `Bearer ${TOKEN}` } })
      assert.deepEqual(await destinations.json(), { file: null, loaded_at: null, last_reload: null, destinations: [] })
      assert.equal((await fetch(`${base(service)}/admin/dead-letters/replay`, { method: 'POST', headers: { authorization: 'Bearer wrong' } })).status, 401)
      const shell = await fetch(`${base(service)}/dashboard`)
      assert.equal(shell.status, 200)
      assert.match(shell.headers.get('content-security-policy') ?? '', /default-src 'none'/)

      await signIn(page, service, 'not-the-token')
      await page.waitForSelector('#login-error:has-text("refused")')
      await signIn(page, service, TOKEN)
      await page.waitForSelector('#connection.live')
      assert.equal(await page.getAttribute('#chart', 'data-delivered'), '0')
      await page.waitForSelector('#destinations-file:has-text("no CALLBACK_DESTINATIONS_FILE")')
      assert.equal(await page.locator('#destinations tbody tr').count(), 0)

      // Notifications flow: the chart's data and the recent attempts follow.
      const ids = Array.from({ length: 30 }, () => newProcessingId())
      await produce(results(ids, (id) => `/flow/${id}`).map((record) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, ...record })))
      await receiver.waitFor(30, 20_000, (request) => request.path.startsWith('/flow/') && ids.includes(Number(request.path.split('/')[2])))
      // The chart shows complete seconds only: the last deliveries appear within about 3 s.
      await waitUntil(async () => Number(await page.getAttribute('#chart', 'data-delivered')) >= 30, 15_000, 'chart data')
      assert.ok(await page.locator('#chart canvas').count(), 'the chart is drawn')
      const shownIds = await Promise.all((await page.locator('#recent tbody tr.delivered').all()).map(async (row) => Number(await row.getAttribute('data-processing-id'))))
      assert.ok(ids.every((id) => shownIds.includes(id)), 'every delivered notification is among the recent attempts')
      assert.equal(await page.textContent('#total-delivered'), '30')

      // A notification whose endpoint answered 410 is dead-lettered and listed with a replay button.
      const goneId = newProcessingId()
      const gonePath = `${GONE}${goneId}`
      await produce(results([goneId], () => gonePath).map((record) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, ...record })))
      const [refused] = await receiver.waitFor(1, 20_000, (request) => request.path === gonePath)
      const row = page.locator(`#dead-letters tbody tr[data-processing-id="${goneId}"]`)
      // The list refreshes every 10 s.
      await row.waitFor({ timeout: 25_000 })
      assert.match((await row.locator('td.reason').textContent()) ?? '', /410/)
      await page.waitForSelector('#chart[data-failed="1"]', { timeout: 15_000 })

      // The endpoint is fixed; the button sends the notification again, with the same webhook-id.
      healed.add(gonePath)
      await row.locator('button.replay').click()
      await page.waitForSelector('#replay-status:has-text("Replayed processing_id")')
      const [, replayed] = await receiver.waitFor(2, 20_000, (request) => request.path === gonePath)
      assert.equal(replayed?.headers['webhook-id'], refused?.headers['webhook-id'])
      await page.waitForSelector(`#dead-letters tbody tr[data-processing-id="${goneId}"] button:has-text("Replay again")`, { timeout: 15_000 })
      await page.waitForSelector(`#recent tbody tr.delivered[data-processing-id="${goneId}"]`, { state: 'attached', timeout: 15_000 })

      mkdirSync(`${ROOT}test-results`, { recursive: true })
      await page.screenshot({ path: SCREENSHOT, fullPage: true })
      assert.deepEqual(pageErrors, [])
    } finally {
      await page.close()
      await service.close()
    }
  })

  test('in Chromium: an origin is paused from the dashboard, its notifications wait (parked count shown), and its Resume button sends them', async () => {
    const topics = uniqueTopics('dashorigins')
    const service = await startService(testEnv(topics, { ADMIN_TOKEN: TOKEN }))
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } })
    const pageErrors: string[] = []
    page.on('pageerror', (error) => pageErrors.push(error.message))
    const origin = receiver.url
    const row = page.locator(`#origins tbody tr[data-origin="${origin}"]`)
    try {
      await signIn(page, service, TOKEN)
      await page.waitForSelector('#connection.live')
      await page.fill('#pause-origin', origin)
      await page.click('#pause-form button[type=submit]')
      await page.waitForSelector('#origin-status:has-text("Paused")')
      await row.and(page.locator('[data-state="paused"]')).waitFor({ timeout: 10_000 })
      assert.match((await row.locator('td.reason').textContent()) ?? '', /operator.*paused from the dashboard/)

      const ids = Array.from({ length: 5 }, () => newProcessingId())
      await produce(results(ids, (id) => `/paused/${id}`).map((record) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, ...record })))
      // The list refreshes every 3 s; the sixth column is the parked count.
      await waitUntil(async () => (await row.locator('td').nth(5).textContent()) === '5', 20_000, 'parked count shown')
      assert.equal(receiver.requests.filter((request) => request.path.startsWith('/paused/')).length, 0, 'nothing sent while paused')

      await row.locator('button.resume').click()
      await page.waitForSelector('#origin-status:has-text("Resumed")')
      await receiver.waitFor(5, 20_000, (request) => request.path.startsWith('/paused/'))
      // Nothing left to show for it: healthy origins without a limit are not listed.
      await row.waitFor({ state: 'detached', timeout: 10_000 })
      await allCommitted(testEnv(topics))
      assert.equal(receiver.requests.filter((request) => request.path.startsWith('/paused/')).length, 5, 'each once')
      assert.deepEqual(pageErrors, [])
    } finally {
      await page.close()
      await service.close()
    }
  })

  test('in Chromium: the filter form shows the count of matching dead letters, and its confirmation replays exactly those, once', async () => {
    const topics = uniqueTopics('dashfilter')
    const env = testEnv(topics, { ADMIN_TOKEN: TOKEN, RETRY_SCHEDULE: '100ms' })
    const service = await startService(env)
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } })
    const pageErrors: string[] = []
    page.on('pageerror', (error) => pageErrors.push(error.message))
    const sent = (path: string) => receiver.requests.filter((request) => request.path === path).length
    try {
      const fixture = await produceFilterFixture(topics, receiver.url)
      await signIn(page, service, TOKEN)
      await page.waitForSelector('#connection.live')

      // A bad filter: one line from the API, nothing to confirm.
      await page.fill('#filter-since', 'yesterday')
      await page.click('#replay-filter button[type=submit]')
      await page.waitForSelector('#filter-count:has-text("Cannot count: since \\"yesterday\\": not a time")')
      assert.equal(await page.isHidden('#filter-replay'), true)

      await page.fill('#filter-since', fixture.filter.since)
      await page.fill('#filter-until', fixture.filter.until)
      await page.fill('#filter-origin', fixture.filter.origin)
      await page.fill('#filter-code', fixture.filter.code.join(', ').toLowerCase())
      await page.click('#replay-filter button[type=submit]')
      await page.waitForSelector('#filter-count[data-selected="2"]')
      assert.match((await page.textContent('#filter-count')) ?? '', /^2 dead letter\(s\) match: 2 notification\(s\), 0 poison record\(s\)\.$/)
      assert.equal(await page.textContent('#filter-replay'), 'Replay these 2')
      assert.equal(await firstTierRecords(topics, [100]), 0, 'counting sends nothing')

      await page.click('#filter-replay')
      await page.waitForSelector('#replay-status:has-text("Replayed 2 of 2 dead letter(s); 0 had been replayed before.")')
      assert.equal(await firstTierRecords(topics, [100]), 2, 'two notifications sent again')
      await receiver.waitFor(2, 20_000, (request) => fixture.paths.matching.includes(request.path))
      await allCommitted(env)
      assert.deepEqual(fixture.paths.matching.map(sent), [1, 1], 'each matching dead letter sent once')
      assert.deepEqual(fixture.paths.others.map(sent), [0, 0, 0, 0], 'no other dead letter sent')

      // Counted again: the same two, both replayed before; a changed filter withdraws the confirmation.
      await page.click('#replay-filter button[type=submit]')
      await page.waitForSelector('#filter-count:has-text("2 replayed before (skipped)")')
      await page.fill('#filter-code', 'DELIVERY_GONE')
      assert.equal(await page.isHidden('#filter-replay'), true)
      assert.deepEqual(pageErrors, [])
    } finally {
      await page.close()
      await service.close()
    }
  })

  test('in Chromium: the Destinations section shows each destination without its secrets, the origins it matched, and a refused reload', async () => {
    const topics = uniqueTopics('dashdest')
    const dir = mkdtempSync(join(tmpdir(), 'dashboard-destinations-'))
    const file = join(dir, 'destinations.yaml')
    const secrets = { header: 'dash-header-value-7c1e9a', password: 'dash-password-4b8d2f', clientSecret: 'dash-client-secret-9e3a6c' }
    const write = (text: string) => {
      writeFileSync(`${file}.tmp`, text)
      renameSync(`${file}.tmp`, file)
    }
    write(`destinations:
  - origin: ${receiver.url}
    headers:
      X-Api-Key: ${secrets.header}
    auth:
      basic:
        username: notify
        password: ${secrets.password}
    timeout_ms: 3000
  - origin: https://*.hooks.example
    auth:
      oauth2_client_credentials:
        token_url: https://idp.example/oauth2/token
        client_id: dashboard-test
        client_secret: ${secrets.clientSecret}
        scope: webhooks:write
`)
    const service = await startService(testEnv(topics, { ADMIN_TOKEN: TOKEN, CALLBACK_DESTINATIONS_FILE: file }))
    const page = await browser.newPage({ viewport: { width: 1280, height: 1100 } })
    const pageErrors: string[] = []
    page.on('pageerror', (error) => pageErrors.push(error.message))
    const row = page.locator(`#destinations tbody tr[data-pattern="${receiver.url}"]`)
    try {
      await signIn(page, service, TOKEN)
      await page.waitForSelector('#connection.live')
      await page.waitForSelector(`#destinations-file:has-text("${file}")`)
      assert.equal(await page.locator('#destinations tbody tr').count(), 2)
      assert.equal(await row.getAttribute('data-auth'), 'basic')
      assert.match((await row.textContent()) ?? '', /basic \(notify\).*X-Api-Key.*timeout 3000 ms/)
      const oauth2 = page.locator('#destinations tbody tr[data-pattern="https://*.hooks.example"]')
      assert.match((await oauth2.textContent()) ?? '', /OAuth2 client dashboard-test at https:\/\/idp\.example\/oauth2\/token/)

      // A notification to the receiver goes out with the destination's credentials; the origin shows as matched.
      const id = newProcessingId()
      await produce(results([id], () => `/dest/${id}`).map((record) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, ...record })))
      const [sent] = await receiver.waitFor(1, 20_000, (request) => request.path === `/dest/${id}`)
      assert.equal(sent?.headers['x-api-key'], secrets.header)
      await row.locator(`td.reason:has-text("${receiver.url} (")`).waitFor({ timeout: 15_000 })

      // An invalid file is refused: the section says so, the destinations in force stay listed.
      write('destinations:\n  - origin: not an origin\n')
      await page.waitForSelector('#destinations-reload.refused:has-text("refused")', { timeout: 15_000 })
      assert.equal(await page.locator('#destinations tbody tr').count(), 2)
      const text = await page.innerText('body')
      for (const value of Object.values(secrets)) assert.ok(!text.includes(value) && !(await page.content()).includes(value), `${value} shown`)
      assert.deepEqual(pageErrors, [])
    } finally {
      await page.close()
      await service.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('replay of all dead-lettered notifications sends each once; a second replay sends none', async () => {
    const topics = uniqueTopics('replayall')
    const env = testEnv(topics, { ADMIN_TOKEN: TOKEN })
    const service = await startService(env)
    const authorization = `Bearer ${TOKEN}`
    try {
      const ids = [newProcessingId(), newProcessingId(), newProcessingId()]
      const paths = ids.map((id) => `${GONE}all/${id}`)
      await produce(results(ids, (id) => `${GONE}all/${id}`).map((record) => ({ topic: topics.KAFKA_TOPIC_FOR_SENDING, ...record })))
      await readTopic(topics.KAFKA_TOPIC_DLQ, 3, 20_000)
      const listed = (await (await fetch(`${base(service)}/admin/dead-letters`, { headers: { authorization } })).json()) as { total: number; letters: Array<{ processing_id: number; replay: string; replayed: boolean }> }
      assert.equal(listed.total, 3)
      assert.deepEqual(listed.letters.map((letter) => [letter.processing_id, letter.replay, letter.replayed]).sort(), ids.map((id) => [id, 'notification', false]).sort())

      for (const path of paths) healed.add(path)
      const first = await fetch(`${base(service)}/admin/dead-letters/replay`, { method: 'POST', headers: { authorization } })
      assert.deepEqual(await first.json(), { selected: 3, replayed: 3, alreadyReplayed: 0 })
      await receiver.waitFor(6, 20_000, (request) => paths.includes(request.path))
      const second = await fetch(`${base(service)}/admin/dead-letters/replay`, { method: 'POST', headers: { authorization } })
      assert.deepEqual(await second.json(), { selected: 3, replayed: 0, alreadyReplayed: 3 })
      // The second replay sent nothing; once every input and retry-tier record is committed,
      // the first replay's records are finished too and nothing can POST them again.
      await allCommitted(env)
      assert.equal(receiver.requests.filter((request) => paths.includes(request.path)).length, 6, 'each notification refused once, delivered once')
      const missing = await fetch(`${base(service)}/admin/dead-letters/0/999/replay`, { method: 'POST', headers: { authorization } })
      assert.equal(missing.status, 404)
    } finally {
      await service.close()
    }
  })
})
