import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { CHAIN_MAX_DEPTH, findInChain, walkErrorChain, type ChainStep } from '../../../src/lib/error-chain.ts'

/** The messages of the errors visited, in order, with how each was reached. */
function visited(error: unknown, step: (value: Error) => ChainStep = () => undefined, maxDepth?: number): string[] {
  const seen: string[] = []
  walkErrorChain(
    error,
    (value, { depth, aggregated }) => {
      seen.push(`${(value as Error).message}@${depth}${aggregated ? '+' : ''}`)
      return step(value as Error)
    },
    maxDepth,
  )
  return seen
}

/** a → aggregate[b → b1, c] → d */
function sample(): Error {
  const aggregate = new AggregateError([new Error('b', { cause: new Error('b1') }), new Error('c')], 'agg', { cause: new Error('d') })
  return new Error('a', { cause: aggregate })
}

describe('walkErrorChain', () => {
  it('visits the error, then the errors an AggregateError holds (each down to its end), then the cause', () => {
    assert.deepEqual(visited(sample()), ['a@0', 'agg@1', 'b@2+', 'b1@3', 'c@2+', 'd@2'])
  })

  it('skip-cause goes into aggregated errors only; skip-below goes into neither', () => {
    assert.deepEqual(visited(sample(), (e) => (e.message === 'agg' ? 'skip-cause' : undefined)), ['a@0', 'agg@1', 'b@2+', 'b1@3', 'c@2+'])
    assert.deepEqual(visited(sample(), (e) => (e.message === 'b' ? 'skip-below' : undefined)), ['a@0', 'agg@1', 'b@2+', 'c@2+', 'd@2'])
    assert.deepEqual(visited(sample(), (e) => (e.message === 'agg' ? 'skip-below' : undefined)), ['a@0', 'agg@1'])
  })

  it('stop ends the whole walk, from deep inside too', () => {
    assert.deepEqual(visited(sample(), (e) => (e.message === 'b1' ? 'stop' : undefined)), ['a@0', 'agg@1', 'b@2+', 'b1@3'])
  })

  it('goes no deeper than maxDepth (8 unless told)', () => {
    let chain = new Error('10')
    for (let i = 9; i >= 0; i--) chain = new Error(String(i), { cause: chain })
    assert.equal(visited(chain).length, CHAIN_MAX_DEPTH + 1)
    assert.deepEqual(visited(chain, undefined, 2), ['0@0', '1@1', '2@2'])
  })

  it('visits each value once in a chain that points back at itself', () => {
    const a = new Error('a') as Error & { cause?: unknown }
    const b = new Error('b', { cause: a })
    a.cause = new AggregateError([b, a], 'agg')
    assert.deepEqual(visited(a), ['a@0', 'agg@1', 'b@2+'])
  })

  it('reads the errors of an AggregateError only, not any `errors` property', () => {
    const lookalike = Object.assign(new Error('x'), { errors: [new Error('inner')] })
    assert.deepEqual(visited(lookalike), ['x@0'])
  })

  it('visits nothing for null or undefined, and a thrown non-error itself', () => {
    assert.deepEqual(visited(undefined), [])
    assert.deepEqual(visited(null), [])
    const values: unknown[] = []
    walkErrorChain('plain text', (value) => void values.push(value))
    assert.deepEqual(values, ['plain text'])
  })
})

describe('findInChain', () => {
  const named = (message: string) => (value: unknown) => value instanceof Error && value.message === message

  it('finds the error itself, a cause, or an error an AggregateError on the way holds', () => {
    const error = sample()
    assert.equal(findInChain(error, named('a')), error)
    assert.equal((findInChain(error, named('d')) as Error | undefined)?.message, 'd')
    assert.equal((findInChain(error, named('c')) as Error | undefined)?.message, 'c')
  })

  it('does not look below the aggregated errors themselves', () => {
    assert.equal(findInChain(sample(), named('b1')), undefined)
  })

  it('returns the first in order: the error before its aggregated errors before its cause', () => {
    const aggregate = new AggregateError([new Error('x', { cause: 1 })], 'x', { cause: new Error('x') })
    assert.equal(findInChain(aggregate, named('x')), aggregate)
    const inner = new AggregateError([new Error('hit')], 'agg', { cause: new Error('hit') })
    assert.equal(findInChain(inner, named('hit')), inner.errors[0])
  })

  it('narrows the type with a type guard, and gives up beyond the depth limit', () => {
    class Timeout extends Error {}
    const found: Timeout | undefined = findInChain(new Error('outer', { cause: new Timeout('t') }), (value) => value instanceof Timeout)
    assert.ok(found instanceof Timeout)
    let deep: Error = new Timeout('deep')
    for (let i = 0; i < CHAIN_MAX_DEPTH + 1; i++) deep = new Error(String(i), { cause: deep })
    assert.equal(findInChain(deep, (value) => value instanceof Timeout), undefined)
  })
})
