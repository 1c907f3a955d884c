// Destination policies for tests, read by the real loader (src/destinations/file.ts) from
// YAML text, and a lookup whose set a test can replace (a reload, without the file watcher).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { parseDestinations } from '../../src/destinations/file.ts'
import { matchDestination } from '../../src/destinations/match.ts'
import type { DestinationLookup, DestinationPolicy, DestinationSet } from '../../src/destinations/policy.ts'

/** The set a destinations file with this text gives (its entries as YAML, JSON or objects). */
export function destinationSet(destinations: readonly unknown[]): DestinationSet {
  return parseDestinations(JSON.stringify({ destinations }), '/test/destinations.yaml')
}

/** The one policy of a file with this one entry. */
export function destinationPolicy(entry: Record<string, unknown>): DestinationPolicy {
  const [policy] = destinationSet([entry]).policies
  if (policy === undefined) throw new Error('no policy')
  return policy
}

export interface TestLookup extends DestinationLookup {
  /** Applies a new set, as a reload does (current() is a new object). */
  replace(destinations: readonly unknown[]): DestinationSet
}

export function testLookup(destinations: readonly unknown[]): TestLookup {
  let set = destinationSet(destinations)
  return {
    policyFor: (origin) => matchDestination(set, origin),
    current: () => set,
    replace(next) {
      set = destinationSet(next)
      return set
    },
  }
}

/** A destinations file (YAML) in a temp directory (CALLBACK_DESTINATIONS_FILE), and how to rewrite and remove it. */
export function destinationsFile(destinations: readonly unknown[]): { path: string; write(next: readonly unknown[]): void; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'destinations-'))
  const path = join(dir, 'destinations.yaml')
  const write = (next: readonly unknown[]) => writeFileSync(path, stringify({ destinations: next }))
  write(destinations)
  return { path, write, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
