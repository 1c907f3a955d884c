import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { SERVICE_NODE_FLAGS } from '../../src/node-flags.ts'
import { memoryBudget } from '../../src/runtime/memory-budget.ts'

const ROOT = new URL('../../', import.meta.url)
/** The start command: node with the flags src/node-flags.ts prints for this environment. */
const START = 'node $(node src/node-flags.ts) src/main.ts'

describe('node flags of the service', () => {
  it('npm start runs the service with the flags computed for its memory limit', () => {
    const scripts = (JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { scripts: Record<string, string> }).scripts
    assert.equal(scripts.start, START)
  })

  it('the Docker image runs the same command, exec-ed so that node gets SIGTERM', () => {
    const cmd = readFileSync(new URL('Dockerfile', ROOT), 'utf8').split('\n').find((line) => line.startsWith('CMD '))
    assert.equal(cmd, `CMD ${JSON.stringify(['sh', '-c', `exec ${START}`])}`.replaceAll('","', '", "'))
  })

  it('the script prints the unlimited flags without a limit, the budget’s with MEMORY_LIMIT_MB', () => {
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, ['src/node-flags.ts'], { cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', ...env } }).stdout.trim()
    // This machine's own cgroup may be limited: MEMORY_LIMIT_MB decides for both cases here.
    assert.equal(run({ MEMORY_LIMIT_MB: '128' }), memoryBudget(128).nodeFlags.join(' '))
    assert.equal(run({ MEMORY_LIMIT_MB: '256' }), memoryBudget(256).nodeFlags.join(' '))
    assert.deepEqual(memoryBudget(undefined).nodeFlags, [...SERVICE_NODE_FLAGS])
  })

  it('are flags this Node accepts, and start it', () => {
    const v8Options = new Set([...readV8Options()])
    for (const flags of [SERVICE_NODE_FLAGS, memoryBudget(96).nodeFlags, memoryBudget(128).nodeFlags, memoryBudget(256).nodeFlags, memoryBudget(1024).nodeFlags]) {
      for (const flag of flags) assert.ok(v8Options.has(flag.replace(/^--/, '').replace(/=.*$/, '')), `${flag} is not a V8 option of ${process.version}`)
      const started = spawnSync(process.execPath, [...flags, '-e', '0'], { encoding: 'utf8' })
      assert.equal(started.status, 0, started.stderr)
    }
  })
})

function* readV8Options(): Generator<string> {
  // `node --v8-options` lists every flag as "  --name (description)".
  const { stdout } = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' })
  for (const match of stdout.matchAll(/^\s+--([a-z0-9-]+)/gm)) yield match[1]!
}
