import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { SERVICE_NODE_FLAGS } from '../../src/node-flags.ts'

const ROOT = new URL('../../', import.meta.url)

describe('node flags of the service', () => {
  it('npm start runs the service with them', () => {
    const scripts = (JSON.parse(readFileSync(new URL('package.json', ROOT), 'utf8')) as { scripts: Record<string, string> }).scripts
    assert.equal(scripts.start, `node ${SERVICE_NODE_FLAGS.join(' ')} src/main.ts`)
  })

  it('the Docker image runs the service with them', () => {
    const cmd = readFileSync(new URL('Dockerfile', ROOT), 'utf8').split('\n').find((line) => line.startsWith('CMD '))
    assert.equal(cmd, `CMD ${JSON.stringify(['node', ...SERVICE_NODE_FLAGS, 'src/main.ts'])}`.replaceAll('","', '", "'))
  })

  it('are flags this Node accepts', () => {
    const v8Options = new Set([...readV8Options()])
    for (const flag of SERVICE_NODE_FLAGS) assert.ok(v8Options.has(flag.replace(/^--/, '').replace(/=.*$/, '')), `${flag} is not a V8 option of ${process.version}`)
  })
})

function* readV8Options(): Generator<string> {
  // `node --v8-options` lists every flag as "  --name (description)".
  const { stdout } = process.getBuiltinModule('node:child_process').spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' })
  for (const match of stdout.matchAll(/^\s+--([a-z0-9-]+)/gm)) yield match[1]!
}
