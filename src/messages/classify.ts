// Decides what a Kafka record is: ours (a result or a request), another service's, or poison.
// Pure: no I/O, so every rule here is unit-tested.
import type { z } from 'zod'
import { ErrorCodes, PoisonMessageError } from '../errors.ts'
import { isWellFormedResult } from './result-shape.ts'
import {
  looksLikeRequest,
  looksLikeResult,
  processingRequestSchema,
  processingResultSchema,
  type ProcessingRequest,
  type ProcessingResult,
} from './schemas.ts'

export const MAX_MESSAGE_BYTES = 1024 * 1024

export type Classified =
  | { kind: 'result'; result: ProcessingResult; raw: Record<string, unknown>; text: string }
  | { kind: 'request'; request: ProcessingRequest }
  | { kind: 'foreign' }
  | { kind: 'poison'; error: PoisonMessageError }

/**
 * @param ourKey the key this topic's messages for us carry (`new_sending`, `new_request`)
 * A record with our key must be a valid result or request. A record without a key is ours
 * when its JSON has our shape. Any other key belongs to another service.
 */
export function classify(key: string | undefined, value: Buffer | undefined, ourKey: string | undefined): Classified {
  const keyed = key !== undefined && key !== ''
  if (keyed && key !== ourKey) return { kind: 'foreign' }

  if (value === undefined || value.length === 0) {
    return keyed ? poison(ErrorCodes.MESSAGE_NOT_JSON, 'empty message') : { kind: 'foreign' }
  }
  if (value.length > MAX_MESSAGE_BYTES) {
    return keyed ? poison(ErrorCodes.MESSAGE_SCHEMA, `message of ${value.length} bytes exceeds ${MAX_MESSAGE_BYTES}`) : { kind: 'foreign' }
  }

  const text = value.toString('utf8')
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (error) {
    return keyed ? poison(ErrorCodes.MESSAGE_NOT_JSON, `not valid JSON: ${(error as Error).message}`) : { kind: 'foreign' }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return keyed ? poison(ErrorCodes.MESSAGE_SCHEMA, 'not a JSON object') : { kind: 'foreign' }
  }

  const object = json as Record<string, unknown>
  if (looksLikeResult(object)) {
    // The schema only for what the fast check does not accept: it says why (poison) or accepts it after all.
    if (isWellFormedResult(object)) return { kind: 'result', result: object, raw: object, text }
    const parsed = processingResultSchema.safeParse(object)
    return parsed.success ? { kind: 'result', result: parsed.data, raw: object, text } : schemaPoison('ProcessingResult', parsed.error)
  }
  if (looksLikeRequest(object)) {
    const parsed = processingRequestSchema.safeParse(object)
    return parsed.success ? { kind: 'request', request: parsed.data } : schemaPoison('ProcessingRequest', parsed.error)
  }
  return keyed ? poison(ErrorCodes.MESSAGE_SCHEMA, 'neither a ProcessingResult nor a ProcessingRequest') : { kind: 'foreign' }
}

function poison(code: PoisonMessageError['code'], reason: string): Classified {
  return { kind: 'poison', error: new PoisonMessageError(code, reason) }
}

function schemaPoison(shape: string, error: z.ZodError): Classified {
  const problems = error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ')
  const urlProblem = error.issues.some((issue) => issue.path.at(-1) === 'callback_url')
  return poison(urlProblem ? ErrorCodes.CALLBACK_URL_INVALID : ErrorCodes.MESSAGE_SCHEMA, `invalid ${shape}: ${problems}`)
}
