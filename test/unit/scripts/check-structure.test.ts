// The size rules' check (scripts/check-structure.ts) on sources written here: each rule
// fires one past its limit and not at it, with the line and name a reader needs.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checkStructure, formatViolation, SIZE_RULES, type Violation } from '../../../scripts/check-structure.ts'

const check = (text: string, path = 'src/x.ts'): Violation[] => checkStructure([{ path, text }])

/** `count` lines of statements, each on its own line. */
const statements = (count: number) => Array.from({ length: count }, (_, i) => `  void ${i}`).join('\n')

/** A function of each kind whose source spans exactly `lines` lines (first token to last). */
const spanning: Record<string, (lines: number) => string> = {
  declaration: (lines) => `export function f(): void {\n${statements(lines - 2)}\n}\n`,
  arrow: (lines) => `export const f = (): void => {\n${statements(lines - 2)}\n}\n`,
  'function expression': (lines) => `export const f = function (): void {\n${statements(lines - 2)}\n}\n`,
  method: (lines) => `export class C {\n  f(): void {\n${statements(lines - 2)}\n  }\n}\n`,
  constructor: (lines: number) => `export class C {\n  constructor() {\n${statements(lines - 2)}\n  }\n}\n`,
  getter: (lines) => `export class C {\n  get f(): number {\n${statements(lines - 3)}\n    return 1\n  }\n}\n`,
}

const names: Record<string, string> = { declaration: 'f', arrow: 'f', 'function expression': 'f', method: 'C.f', constructor: 'C.constructor', getter: 'get C.f' }
/** Class members start on the class's second line. */
const inClass = new Set(['method', 'constructor', 'getter'])

describe('check-structure: lines in a file', () => {
  const file = (lines: number) => Array.from({ length: lines }, (_, i) => `export const v${i} = ${i}`).join('\n') + '\n'

  it(`passes a file of ${SIZE_RULES.fileLines} lines`, () => {
    assert.deepEqual(check(file(SIZE_RULES.fileLines)), [])
  })

  it(`fails a file of ${SIZE_RULES.fileLines + 1} lines, at its first line`, () => {
    assert.deepEqual(check(file(SIZE_RULES.fileLines + 1)), [{ path: 'src/x.ts', line: 1, name: '(file)', rule: '301 lines, more than 300 in a file' }])
  })

  it('counts a last line without a newline', () => {
    assert.equal(check(file(SIZE_RULES.fileLines).trimEnd()).length, 0)
    assert.equal(check(file(SIZE_RULES.fileLines + 1).trimEnd()).length, 1)
  })
})

describe('check-structure: lines in a function', () => {
  for (const [kind, source] of Object.entries(spanning)) {
    it(`a ${kind}: passes at ${SIZE_RULES.functionLines} lines, fails at ${SIZE_RULES.functionLines + 1}`, () => {
      assert.deepEqual(check(source(SIZE_RULES.functionLines)), [])
      const [violation, ...more] = check(source(SIZE_RULES.functionLines + 1))
      assert.deepEqual(more, [])
      assert.equal(violation?.name, names[kind])
      assert.equal(violation?.rule, 'function spans 61 lines, more than 60')
      assert.equal(violation?.line, inClass.has(kind) ? 2 : 1)
    })
  }

  it('names the line of an inner function and the outer one both, each by its own span', () => {
    const text = `export function outer(): void {\n  const inner = () => {\n${statements(SIZE_RULES.functionLines - 1)}\n  }\n  inner()\n}\n`
    const found = check(text).map(formatViolation)
    assert.deepEqual(found, ['src/x.ts:1 outer — function spans 64 lines, more than 60', 'src/x.ts:2 inner — function spans 61 lines, more than 60'])
  })

  it('does not count the comment above a function, nor an overload signature', () => {
    const text = `/**\n * Long documentation.\n */\nexport function f(a: string): void\nexport function f(a: string): void {\n${statements(SIZE_RULES.functionLines - 2)}\n}\n`
    assert.deepEqual(check(text), [])
  })
})

describe('check-structure: positional parameters', () => {
  const params = (count: number) => Array.from({ length: count }, (_, i) => `p${i}: number`).join(', ')

  it(`passes ${SIZE_RULES.parameters} parameters and fails ${SIZE_RULES.parameters + 1}, for every kind of function`, () => {
    const kinds = [
      (list: string) => `export function f(${list}): void {}\n`,
      (list: string) => `export const f = (${list}): void => {}\n`,
      (list: string) => `export const f = function (${list}): void {}\n`,
      (list: string) => `export class C {\n  f(${list}): void {}\n}\n`,
      (list: string) => `export class C {\n  constructor(${list}) {}\n}\n`,
      (list: string) => `export const o = { f(${list}): void {} }\n`,
    ]
    for (const kind of kinds) {
      assert.deepEqual(check(kind(params(SIZE_RULES.parameters))), [], kind(''))
      const found = check(kind(params(SIZE_RULES.parameters + 1)))
      assert.equal(found.length, 1, kind(''))
      assert.equal(found[0]?.rule, '6 positional parameters, more than 5 (pass an options object)')
    }
  })

  it('counts a destructured object as one parameter, and `this` as none', () => {
    assert.deepEqual(check(`export function f(this: unknown, { a, b, c, d, e, g }: Record<string, number>, ${params(4)}): void {}\n`), [])
    assert.equal(check(`export function f(this: unknown, { a }: Record<string, number>, ${params(5)}): void {}\n`).length, 1)
  })

  it('names what it finds: a method by its class, an arrow by its variable, with the line', () => {
    const text = `export class Sender {\n  send(${params(6)}): void {}\n}\n\nexport const build = (${params(7)}) => 0\n`
    assert.deepEqual(check(text).map(formatViolation), [
      'src/x.ts:2 Sender.send — 6 positional parameters, more than 5 (pass an options object)',
      'src/x.ts:5 build — 7 positional parameters, more than 5 (pass an options object)',
    ])
  })
})

describe('check-structure: several files', () => {
  it('reports each file by its path, and nothing for a clean one', () => {
    const found = checkStructure([
      { path: 'src/a.ts', text: 'export const a = 1\n' },
      { path: 'src/b.ts', text: `export function b(${'x, '.repeat(6)}): void {}\n` },
    ])
    assert.deepEqual(found.map((violation) => `${violation.path}:${violation.line} ${violation.name}`), ['src/b.ts:1 b'])
  })
})
