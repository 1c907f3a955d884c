// CALLBACK_DESTINATIONS_FILE read and checked as a whole (contract §4 Destinations): YAML (JSON
// is YAML) without duplicate keys, references resolved (references.ts), every entry checked
// strictly (file-schema.ts, headers.ts, tls-material.ts), origins normalised and unique. The
// first problem is one line naming the file, the entry and the field, never a secret:
// `CALLBACK_DESTINATIONS_FILE /etc/dest.yaml: destinations[2] (https://hooks.acme.example): auth: …`.
import { readFileSync } from 'node:fs'
import { LineCounter, parseDocument } from 'yaml'
import type { z } from 'zod'
import { ConfigError } from '../errors.ts'
import { destinationEntrySchema, destinationsFileSchema, type DestinationEntry } from './file-schema.ts'
import { checkHeaders } from './headers.ts'
import { normaliseOriginPattern } from './origin-pattern.ts'
import type { DestinationAuth, DestinationPolicy, DestinationSet } from './policy.ts'
import { LOCAL_SOURCES, ReferenceProblem, resolveReferences, type ReferenceSources } from './references.ts'
import { loadTlsMaterial, TlsProblem } from './tls-material.ts'

export const DESTINATIONS_VARIABLE = 'CALLBACK_DESTINATIONS_FILE'

/** The file cannot be used: `message` is the one line to print or log. */
export class DestinationsFileError extends ConfigError {
  readonly file: string
  /** The line without the variable and the file: "destinations[2] (https://…): auth: …". */
  readonly problem: string

  constructor(file: string, problem: string) {
    super(DESTINATIONS_VARIABLE, problem)
    this.file = file
    this.problem = problem
    this.name = 'DestinationsFileError'
    this.message = `${DESTINATIONS_VARIABLE} ${file}: ${problem}`
  }
}

export interface LoadOptions {
  /** Where ${env:…} and ${file:…} are read (default: this process's environment and disk). */
  readonly sources?: ReferenceSources
  /** The set's loadedAt (default: now). */
  readonly now?: number
}

/** Reads the file and checks it; throws a DestinationsFileError. */
export function readDestinationsFile(file: string, options: LoadOptions = {}): DestinationSet {
  return parseDestinations(readDestinationsText(file), file, options)
}

/** The file's text; throws a DestinationsFileError when it cannot be read. */
export function readDestinationsText(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    throw new DestinationsFileError(file, `cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`)
  }
}

/** The set the text describes (`file` names it in problems and anchors relative TLS paths); throws a DestinationsFileError. */
export function parseDestinations(text: string, file: string, options: LoadOptions = {}): DestinationSet {
  const sources = options.sources ?? LOCAL_SOURCES
  const entries = parseYamlList(text, file)
  const policies: DestinationPolicy[] = []
  const indexOfPattern = new Map<string, number>()
  entries.forEach((raw, index) => {
    const label = entryLabel(raw, index)
    try {
      const policy = toPolicy(checkEntry(raw, sources), index, file)
      const twin = indexOfPattern.get(policy.pattern)
      if (twin !== undefined) throw new EntryProblem('origin', `${policy.pattern} is already the origin of destinations[${twin}]`)
      indexOfPattern.set(policy.pattern, index)
      policies.push(policy)
    } catch (error) {
      if (error instanceof EntryProblem) throw new DestinationsFileError(file, `${label}: ${error.field}: ${error.message}`)
      throw error
    }
  })
  return Object.freeze({ file, policies: Object.freeze(policies), loadedAt: options.now ?? Date.now() })
}

class EntryProblem extends Error {
  readonly field: string

  constructor(field: string, problem: string) {
    super(problem)
    this.field = field
  }
}

function parseYamlList(text: string, file: string): unknown[] {
  const lineCounter = new LineCounter()
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true, schema: 'core', merge: false, lineCounter })
  const [error] = document.errors
  if (error !== undefined) {
    const { line, col } = lineCounter.linePos(error.pos[0])
    throw new DestinationsFileError(file, `line ${line}, column ${col}: ${error.message}`)
  }
  const parsed = destinationsFileSchema.safeParse(document.toJS({ maxAliasCount: 100 }))
  if (!parsed.success) {
    const { field, problem } = describeIssue(parsed.error.issues[0], 'the file')
    throw new DestinationsFileError(file, `${field}: ${problem}`)
  }
  return parsed.data.destinations
}

/** "destinations[2] (https://hooks.acme.example)": the origin as written (a reference unresolved), so no secret. */
function entryLabel(raw: unknown, index: number): string {
  const origin = raw !== null && typeof raw === 'object' && 'origin' in raw ? raw.origin : undefined
  return typeof origin === 'string' ? `destinations[${index}] (${origin})` : `destinations[${index}]`
}

function checkEntry(raw: unknown, sources: ReferenceSources): DestinationEntry {
  let resolved: unknown
  try {
    resolved = resolveReferences(raw, sources)
  } catch (error) {
    if (error instanceof ReferenceProblem) throw new EntryProblem(error.path.join('.'), error.message)
    throw error
  }
  const parsed = destinationEntrySchema.safeParse(resolved)
  if (!parsed.success) {
    const { field, problem } = describeIssue(parsed.error.issues[0], 'the destination')
    throw new EntryProblem(field, problem)
  }
  return parsed.data
}

/** The field (a dotted path; `whole` for the value itself) and what is wrong; an unknown field is named by itself. */
function describeIssue(issue: z.core.$ZodIssue | undefined, whole: string): { field: string; problem: string } {
  const path = issue?.path.map(String) ?? []
  if (issue?.code === 'unrecognized_keys') return { field: [...path, issue.keys[0] ?? ''].join('.'), problem: 'unknown field' }
  return { field: path.length === 0 ? whole : path.join('.'), problem: issue?.message ?? 'is invalid' }
}

function toPolicy(entry: DestinationEntry, index: number, file: string): DestinationPolicy {
  const origin = normaliseOriginPattern(entry.origin)
  if ('problem' in origin) throw new EntryProblem('origin', origin.problem)
  const headers = entry.headers ?? {}
  const badHeader = checkHeaders(headers, entry.auth !== undefined)
  if (badHeader !== undefined) throw new EntryProblem(`headers.${badHeader.name}`, badHeader.problem)
  let tls
  try {
    tls = entry.tls === undefined ? undefined : Object.freeze(loadTlsMaterial(entry.tls, file))
  } catch (error) {
    if (error instanceof TlsProblem) throw new EntryProblem(`tls.${error.field}`, error.message)
    throw error
  }
  return Object.freeze({
    pattern: origin.pattern,
    index,
    headers: Object.freeze({ ...headers }),
    auth: entry.auth === undefined ? undefined : toAuth(entry.auth),
    tls,
    timeoutMs: entry.timeout_ms,
    rateLimitPerSecond: entry.rate_limit,
    maxConnections: entry.max_connections,
  })
}

function toAuth(auth: NonNullable<DestinationEntry['auth']>): DestinationAuth {
  if (auth.bearer !== undefined) return Object.freeze({ kind: 'bearer', token: auth.bearer })
  if (auth.basic !== undefined) return Object.freeze({ kind: 'basic', username: auth.basic.username, password: auth.basic.password })
  const oauth = auth.oauth2_client_credentials!
  return Object.freeze({
    kind: 'oauth2_client_credentials',
    tokenUrl: oauth.token_url,
    clientId: oauth.client_id,
    clientSecret: oauth.client_secret,
    scope: oauth.scope,
    audience: oauth.audience,
    clientAuth: oauth.client_auth,
  })
}
