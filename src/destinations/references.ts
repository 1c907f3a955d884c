// `${env:NAME}` and `${file:/absolute/path}` in the string values of CALLBACK_DESTINATIONS_FILE,
// replaced at load by the variable's value or the file's content (one trailing newline
// removed, as `echo secret > file` leaves one). A problem names the reference, never a value.
import { readFileSync } from 'node:fs'
import { isAbsolute } from 'node:path'

export interface ReferenceSources {
  readonly env: NodeJS.ProcessEnv
  /** The content of a file as text; throws when it cannot be read. */
  readonly readFile: (path: string) => string
}

export const LOCAL_SOURCES: ReferenceSources = { env: process.env, readFile: (path) => readFileSync(path, 'utf8') }

/** A reference that cannot be resolved, at `path` in the document (keys and list indexes). */
export class ReferenceProblem extends Error {
  readonly path: ReadonlyArray<string | number>

  constructor(path: ReadonlyArray<string | number>, problem: string) {
    super(problem)
    this.path = path
  }
}

const REFERENCE = /\$\{([^}]*)\}/g
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

/** The same tree with every string's references resolved (keys untouched); throws a ReferenceProblem. */
export function resolveReferences(value: unknown, sources: ReferenceSources, path: Array<string | number> = []): unknown {
  if (typeof value === 'string') return resolveString(value, sources, path)
  if (Array.isArray(value)) return value.map((item, index) => resolveReferences(item, sources, [...path, index]))
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, resolveReferences(item, sources, [...path, key])]))
  }
  return value
}

function resolveString(text: string, sources: ReferenceSources, path: ReadonlyArray<string | number>): string {
  if (!text.includes('${')) return text
  return text.replace(REFERENCE, (whole, inner: string) => {
    const colon = inner.indexOf(':')
    const kind = inner.slice(0, colon)
    const target = inner.slice(colon + 1)
    if (colon !== -1 && kind === 'env' && ENV_NAME.test(target)) {
      const found = sources.env[target]
      if (found === undefined) throw new ReferenceProblem(path, `${whole}: the environment variable ${target} is not set`)
      return found
    }
    if (colon !== -1 && kind === 'file' && isAbsolute(target)) return readReferencedFile(target, whole, sources, path)
    throw new ReferenceProblem(path, `${whole} is not \${env:NAME} or \${file:/absolute/path}`)
  })
}

function readReferencedFile(file: string, whole: string, sources: ReferenceSources, path: ReadonlyArray<string | number>): string {
  try {
    return sources.readFile(file).replace(/\r?\n$/, '')
  } catch (error) {
    throw new ReferenceProblem(path, `${whole}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`)
  }
}
