import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { loadConfig } from '../../../src/config.ts'
import { DEFAULTS } from '../../../src/config/defaults.ts'
import { ALL_VARIABLES, configurationReference, REFERENCE_PATH } from '../../../src/config/reference.ts'
import { VARIABLE_DOCS } from '../../../src/config/variables.ts'
import { ConfigError } from '../../../src/errors.ts'

const ROOT = new URL('../../../', import.meta.url)
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8')
const defaults: Readonly<Record<string, string>> = DEFAULTS

describe('docs/configuration.md', () => {
  it('is what `npm run docs:config` writes from the schema (run it after changing a variable)', () => {
    assert.equal(read(REFERENCE_PATH), configurationReference())
  })

  it('names every variable the service reads', () => {
    const text = read(REFERENCE_PATH)
    for (const name of ALL_VARIABLES) assert.match(text, new RegExp(`^\\| \`${name}\` \\|`, 'm'), name)
  })

  it('says for every variable either its default value or what unset means, not both', () => {
    for (const name of ALL_VARIABLES) {
      assert.equal(defaults[name] === undefined, VARIABLE_DOCS[name].whenUnset !== undefined, name)
    }
  })

  it('the defaults are valid values, and the same as leaving the variables unset', () => {
    const { kafka: withDefaults, ...rest } = loadConfig({ ...defaults })
    const { kafka: unset, ...restUnset } = loadConfig({})
    assert.deepEqual({ ...withDefaults, clientId: '' }, { ...unset, clientId: '' })
    assert.deepEqual(rest, restUnset)
  })

  it('gives the integer ranges the schema accepts', () => {
    for (const name of ALL_VARIABLES) {
      const range = /^an integer from (\d+) to (\d+)$/.exec(VARIABLE_DOCS[name].allowed)
      if (!range) continue
      const [min, max] = [Number(range[1]), Number(range[2])]
      const accepts = (value: number) => {
        try {
          loadConfig({ [name]: String(value) })
          return true
        } catch (error) {
          assert.ok(error instanceof ConfigError && error.variable === name, String(error))
          return false
        }
      }
      assert.deepEqual([accepts(min - 1), accepts(min), accepts(max), accepts(max + 1)], [false, true, true, false], name)
    }
  })
})

describe('.env.example', () => {
  const lines = read('.env.example').split('\n')
  const assignments = lines.map((line) => /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/.exec(line)).filter((match) => match !== null)

  it('names every variable the service reads', () => {
    const named = new Set(assignments.map((match) => match[2]))
    for (const name of ALL_VARIABLES) assert.ok(named.has(name), `${name} is missing from .env.example`)
  })

  it('names no variable the service does not read', () => {
    const known = new Set<string>(ALL_VARIABLES)
    for (const match of assignments) assert.ok(known.has(match[2]!), `${match[2]} is not read by the service`)
  })

  it('sets only defaults: a copy to .env changes nothing', () => {
    for (const match of assignments.filter((found) => found[1] === undefined)) {
      assert.equal(match[3], defaults[match[2]!] ?? '', match[2])
    }
  })
})
