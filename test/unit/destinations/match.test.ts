import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { parseDestinations } from '../../../src/destinations/file.ts'
import { DestinationMatcher, matchDestination } from '../../../src/destinations/match.ts'
import type { DestinationSet } from '../../../src/destinations/policy.ts'

function setOf(...origins: string[]): DestinationSet {
  return parseDestinations(`destinations:\n${origins.map((origin) => `  - origin: "${origin}"\n`).join('')}`, '/test/destinations.yaml')
}

const patternFor = (set: DestinationSet, origin: string) => matchDestination(set, origin)?.pattern

describe('matchDestination: the most specific destination wins', () => {
  const set = setOf('*', 'https://*.example', 'https://*.acme.example', 'https://hooks.acme.example', 'https://*.eu.acme.example:8443', 'http://*.acme.example')

  it('an exact origin before any wildcard', () => {
    assert.equal(patternFor(set, 'https://hooks.acme.example'), 'https://hooks.acme.example')
  })

  it('the longest wildcard before a shorter one', () => {
    assert.equal(patternFor(set, 'https://other.acme.example'), 'https://*.acme.example')
    assert.equal(patternFor(set, 'https://a.b.c.acme.example'), 'https://*.acme.example')
    assert.equal(patternFor(set, 'https://x.eu.acme.example:8443'), 'https://*.eu.acme.example:8443')
    assert.equal(patternFor(set, 'https://elsewhere.example'), 'https://*.example')
  })

  it('a wildcard needs the same scheme and port, and a label in front (not the apex)', () => {
    assert.equal(patternFor(set, 'http://x.acme.example'), 'http://*.acme.example')
    assert.equal(patternFor(set, 'https://x.eu.acme.example'), 'https://*.acme.example')
    assert.equal(patternFor(set, 'https://x.acme.example:8443'), '*')
    assert.equal(patternFor(set, 'https://acme.example'), 'https://*.example')
    assert.equal(patternFor(set, 'https://example'), '*')
  })

  it('* for every other origin, nothing without it', () => {
    assert.equal(patternFor(set, 'https://api.client.test'), '*')
    assert.equal(patternFor(set, 'http://[::1]:8080'), '*')
    const withoutAny = setOf('https://hooks.acme.example', 'https://*.acme.example')
    assert.equal(patternFor(withoutAny, 'https://api.client.test'), undefined)
    assert.equal(patternFor(withoutAny, 'http://hooks.acme.example'), undefined)
  })

  it('an exact origin with a port matches only that port', () => {
    const ported = setOf('http://127.0.0.1:8080', 'http://localhost')
    assert.equal(patternFor(ported, 'http://127.0.0.1:8080'), 'http://127.0.0.1:8080')
    assert.equal(patternFor(ported, 'http://127.0.0.1:8081'), undefined)
    assert.equal(patternFor(ported, 'http://localhost'), 'http://localhost')
  })
})

describe('DestinationMatcher: memoised', () => {
  it('answers the same object again, misses included', () => {
    const matcher = new DestinationMatcher(setOf('https://*.acme.example'))
    const first = matcher.match('https://a.acme.example')
    assert.ok(first !== undefined)
    assert.equal(matcher.match('https://a.acme.example'), first)
    assert.equal(matcher.match('https://other.test'), undefined)
    assert.equal(matcher.match('https://other.test'), undefined)
  })

  it('stays right past its memo bound', () => {
    const matcher = new DestinationMatcher(setOf('https://*.acme.example', '*'))
    for (let i = 0; i < 25_000; i++) {
      const origin = i % 2 === 0 ? `https://h${i}.acme.example` : `https://h${i}.other.test`
      assert.equal(matcher.match(origin)?.pattern, i % 2 === 0 ? 'https://*.acme.example' : '*')
    }
  })
})
