// The destinations in force (contract §4): the set read at start, replaced when the file is
// re-read and valid; an invalid file is refused with one log line and a metric, and the
// previous set stays. The file's directory is watched (an atomic rename or a Kubernetes
// ConfigMap's symlink swap replaces the file without writing it); SIGHUP also re-reads it,
// together with the files its references and TLS paths name, which are not watched.
import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import { describeError } from '../errors.ts'
import type { Logger } from '../log.ts'
import type { Metrics } from '../metrics.ts'
import { parseDestinations, readDestinationsText } from './file.ts'
import { DestinationMatcher } from './match.ts'
import type { DestinationPolicy, DestinationSet, DestinationsView } from './policy.ts'
import { RecentOrigins } from './recent-origins.ts'
import { LOCAL_SOURCES, type ReferenceSources } from './references.ts'

export type DestinationMetrics = Pick<Metrics, 'destinationReloads' | 'destinationsLoaded' | 'destinationsCount'>

export interface DestinationRegistryOptions {
  /** The set read at start (config.destinations); its `file` is the one re-read. */
  readonly initial: DestinationSet
  readonly logger: Logger
  readonly metrics: DestinationMetrics
  /** Where references are read (default: this process's environment and disk). */
  readonly sources?: ReferenceSources
  /** Watch the file's directory (default true). */
  readonly watch?: boolean
  /** Quiet time after the last change seen before the file is re-read (default 200 ms). */
  readonly debounceMs?: number
  readonly now?: () => number
}

/** Why the file is re-read: a change seen by the watcher (skipped when its text is the same), or an explicit ask (SIGHUP, a test). */
export type ReloadTrigger = 'change' | 'signal'

export type ReloadResult = { readonly result: 'applied' } | { readonly result: 'refused'; readonly problem: string } | { readonly result: 'unchanged' }

const DEFAULT_DEBOUNCE_MS = 200

export class DestinationRegistry implements DestinationsView {
  readonly #file: string
  readonly #logger: Logger
  readonly #metrics: DestinationMetrics
  readonly #sources: ReferenceSources
  readonly #now: () => number
  readonly #debounceMs: number
  readonly #recent = new RecentOrigins()
  readonly #listeners = new Set<(set: DestinationSet) => void>()
  #set: DestinationSet
  #matcher: DestinationMatcher
  #lastText: string | undefined
  #lastReload: { at: number; applied: boolean; problem?: string } | undefined
  #watcher: FSWatcher | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(options: DestinationRegistryOptions) {
    this.#set = options.initial
    this.#file = options.initial.file
    this.#matcher = new DestinationMatcher(options.initial)
    this.#logger = options.logger
    this.#metrics = options.metrics
    this.#sources = options.sources ?? LOCAL_SOURCES
    this.#now = options.now ?? Date.now
    this.#debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS
    this.#lastText = this.#readText()
    this.#showInForce()
    if (options.watch ?? true) this.#watch()
  }

  policyFor(origin: string): DestinationPolicy | undefined {
    const policy = this.#matcher.match(origin)
    if (policy !== undefined) this.#recent.note(policy.pattern, origin, this.#now())
    return policy
  }

  current(): DestinationSet {
    return this.#set
  }

  lastReload() {
    return this.#lastReload
  }

  recentOrigins(policy: DestinationPolicy) {
    return this.#recent.of(policy.pattern)
  }

  /** Called with the new set after each applied reload (e.g. to drop what was built from the old one). */
  onApplied(listener: (set: DestinationSet) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  /** Re-reads the file now: applies it when valid, else keeps the set in force (one log line, a metric). */
  reload(trigger: ReloadTrigger = 'signal'): ReloadResult {
    const at = this.#now()
    let text: string | undefined
    try {
      text = readDestinationsText(this.#file)
      if (trigger === 'change' && text === this.#lastText) return { result: 'unchanged' }
      const set = parseDestinations(text, this.#file, { sources: this.#sources, now: at })
      this.#apply(set, at, trigger)
      return { result: 'applied' }
    } catch (error) {
      // A DestinationsFileError's message is the one line with no secret in it.
      const problem = error instanceof Error ? error.message : describeError(error)
      this.#lastReload = { at, applied: false, problem }
      this.#metrics.destinationReloads.inc({ result: 'refused' })
      this.#logger.error({ trigger }, `${problem} (refused: the destinations in force stay)`)
      return { result: 'refused', problem }
    } finally {
      // The text last read, refused or not (so the same refused text is not logged again); none when unreadable, so the file back is applied.
      this.#lastText = text
    }
  }

  /** Stops watching the file. */
  close(): void {
    clearTimeout(this.#timer)
    this.#watcher?.close()
    this.#watcher = undefined
  }

  #apply(set: DestinationSet, at: number, trigger: ReloadTrigger): void {
    this.#set = set
    this.#matcher = new DestinationMatcher(set)
    this.#recent.keepOnly(new Set(set.policies.map((policy) => policy.pattern)))
    this.#lastReload = { at, applied: true }
    this.#metrics.destinationReloads.inc({ result: 'applied' })
    this.#showInForce()
    this.#logger.info({ file: this.#file, trigger, destinations: set.policies.map((policy) => policy.pattern) }, 'destinations file reloaded: applies to the next attempts')
    for (const listener of this.#listeners) listener(set)
  }

  #showInForce(): void {
    this.#metrics.destinationsLoaded.set(this.#set.loadedAt / 1000)
    this.#metrics.destinationsCount.set(this.#set.policies.length)
  }

  #readText(): string | undefined {
    try {
      return readDestinationsText(this.#file)
    } catch {
      return undefined
    }
  }

  /** Any entry of the directory changing may be our file's (a rename onto it, a symlink swapped under it): re-read after a quiet time. */
  #watch(): void {
    try {
      this.#watcher = watch(dirname(this.#file), { persistent: false }, () => this.#changed())
    } catch (error) {
      this.#logger.warn({ file: this.#file, error: describeError(error) }, 'cannot watch the destinations file: reload it with SIGHUP')
      return
    }
    this.#watcher.on('error', (error) => {
      this.#logger.warn({ file: this.#file, error: describeError(error) }, 'stopped watching the destinations file: reload it with SIGHUP')
      this.close()
    })
    this.#logger.debug({ directory: dirname(this.#file), file: basename(this.#file) }, 'watching the destinations file')
  }

  #changed(): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.reload('change'), this.#debounceMs)
    this.#timer.unref()
  }
}
