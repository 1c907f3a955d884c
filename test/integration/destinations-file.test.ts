// CALLBACK_DESTINATIONS_FILE in the real process (src/main.ts): a bad file stops start-up with
// exit 78 and one line; a running service re-reads the file on SIGHUP and when it changes,
// refusing an invalid one (log line, metric) and applying a valid one. What a reloaded file
// changes in the requests themselves is tested with the transport (http-client tests).
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { uniqueTopics } from '../helpers/kafka.ts'
import { readyChild, spawnService, testEnv, waitUntil, type Child } from '../helpers/service.ts'

const SECRET = 'destinations-secret-in-the-environment'
let dir: string

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'destinations-it-'))
})
after(() => {
  rmSync(dir, { recursive: true, force: true })
})

const validFile = (...origins: string[]) => `destinations:\n${origins.map((origin) => `  - origin: ${origin}\n    auth: { bearer: "\${env:DEST_TOKEN}" }\n`).join('')}`

async function metric(child: Child, line: RegExp): Promise<number | undefined> {
  const text = await (await fetch(`http://127.0.0.1:${child.httpPort}/metrics`)).text()
  const found = text.split('\n').find((row) => line.test(row))
  return found === undefined ? undefined : Number(found.split(' ').pop())
}

function logLines(logDir: string): Array<{ level: number; msg: string }> {
  return readdirSync(logDir)
    .flatMap((name) => readFileSync(join(logDir, name), 'utf8').split('\n'))
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { level: number; msg: string })
}

describe('CALLBACK_DESTINATIONS_FILE in the service process', () => {
  test('a malformed file stops start-up with exit 78 and one line naming the file, the entry and the field', async () => {
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, `${validFile('https://a.example')}  - origin: https://hooks.acme.example\n    auth: { bearer: "\${env:DEST_TOKEN}", basic: { username: u, password: "\${env:DEST_TOKEN}" } }\n`)
    const child = spawnService({ ...testEnv(uniqueTopics('dest-bad')), CALLBACK_DESTINATIONS_FILE: file, DEST_TOKEN: SECRET })
    let stderr = ''
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.stdout?.resume()
    const [code] = (await once(child, 'exit')) as [number | null]
    assert.equal(code, 78, stderr)
    const lines = stderr.trim().split('\n')
    assert.equal(lines.length, 1, stderr)
    assert.equal(lines[0], `Invalid configuration: CALLBACK_DESTINATIONS_FILE ${file}: destinations[1] (https://hooks.acme.example): auth: give one of bearer, basic, oauth2_client_credentials, not two`)
    assert.ok(!stderr.includes(SECRET))
  })

  test('a running service re-reads the file on SIGHUP and when it changes: invalid refused, valid applied', async () => {
    const file = join(dir, 'destinations.yaml')
    writeFileSync(file, validFile('https://a.example'))
    const env = testEnv(uniqueTopics('dest-reload'), { CALLBACK_DESTINATIONS_FILE: file, DEST_TOKEN: SECRET, LOG_LEVEL: 'info' })
    const child = await readyChild(env)
    try {
      assert.equal(await metric(child, /^notification_destinations /), 1)
      const loadedAtStart = await metric(child, /^notification_destinations_loaded_timestamp_seconds /)
      assert.ok(loadedAtStart !== undefined && loadedAtStart > 0)

      // Invalid, announced by SIGHUP (the watcher sees it too, unless the signal's reload read it first: one or two refusals, one line each).
      writeFileSync(file, `${validFile('https://a.example')}    timeout_ms: 5\n`)
      child.kill('SIGHUP')
      const refused = () => metric(child, /^notification_destinations_reloads_total\{result="refused"\}/)
      const refusals = () => logLines(env.LOG_DIR!).filter((line) => line.level >= 40 && line.msg.includes('timeout_ms'))
      await waitUntil(async () => ((await refused()) ?? 0) >= 1 && refusals().length === (await refused()), 20_000, 'each refusal counted and logged once')
      await waitUntil(() => logLines(env.LOG_DIR!).some((line) => line.msg.startsWith('reload of the destinations file asked')), 10_000, 'the SIGHUP logged')
      assert.equal(await metric(child, /^notification_destinations /), 1)
      for (const { msg } of refusals()) assert.ok(msg.startsWith(`CALLBACK_DESTINATIONS_FILE ${file}: destinations[0] (https://a.example): timeout_ms: must be an integer from 100 to 600000`), msg)

      // Valid: seen by the watcher, no signal.
      writeFileSync(file, validFile('https://a.example', 'https://*.b.example'))
      await waitUntil(async () => (await metric(child, /^notification_destinations /)) === 2, 20_000, 'the valid file applied')
      assert.ok((await metric(child, /^notification_destinations_reloads_total\{result="applied"\}/))! >= 1)
      assert.ok((await metric(child, /^notification_destinations_loaded_timestamp_seconds /))! >= loadedAtStart)
      assert.ok(!readdirSync(env.LOG_DIR!).some((name) => readFileSync(join(env.LOG_DIR!, name), 'utf8').includes(SECRET)))
    } finally {
      child.kill('SIGTERM')
      if (child.exitCode === null) await once(child, 'exit')
    }
  })
})
