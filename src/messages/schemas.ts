// The two message shapes that arrive from Kafka (contract §1), as run-time schemas.
// Unknown fields are kept: a success notification carries the result as received.
import { z } from 'zod'
import { parseHttpUrl } from '../lib/http-url.ts'
import { memoByString } from '../lib/memo.ts'

export const MAX_URL_LENGTH = 2048

/** Remembered for the last few hundred URLs (parsing one costs ~1 µs; most results go to a URL seen before). */
export const isAbsoluteHttpUrl: (text: string) => boolean = memoByString((text) => parseHttpUrl(text) !== undefined, 256)

export const callbackUrl = z
  .string()
  .max(MAX_URL_LENGTH, `must be at most ${MAX_URL_LENGTH} characters`)
  .refine(isAbsoluteHttpUrl, 'must be an absolute http(s) URL')

const processingId = z.number().int().nonnegative().refine(Number.isSafeInteger, 'must be a safe integer')
const id = z.number().int()
const nullableId = id.nullish()

const successResponse = z.looseObject({
  callback_url: callbackUrl.optional(),
  processing_id: processingId,
  user_id: id,
  resume_id: id,
  requirements_id: id,
  score: z.number(),
  matches: z.array(z.string()),
  recommendation: z.string(),
  verdict: z.string(),
})

const failureResponse = z.looseObject({
  callback_url: callbackUrl.nullish(),
  processing_id: processingId,
  user_id: nullableId,
  resume_id: nullableId,
  requirements_id: nullableId,
})

export const processingResultSchema = z.discriminatedUnion('success', [
  z.looseObject({
    success: z.literal(true),
    response: successResponse,
    message_error: z.string().nullish(),
    wait_seconds: z.number().nonnegative().nullish(),
  }),
  z.looseObject({
    success: z.literal(false),
    response: failureResponse,
    message_error: z.string().nullish(),
    wait_seconds: z.number().nonnegative().nullish(),
  }),
])

export const processingRequestSchema = z.looseObject({
  callback_url: callbackUrl,
  processing_id: processingId,
  user_id: id,
  resume_id: id,
  requirements_id: id,
  requirements: z.unknown().optional(),
  resume: z.unknown().optional(),
})

export type ProcessingResult = z.infer<typeof processingResultSchema>
export type ProcessingRequest = z.infer<typeof processingRequestSchema>

/** Heuristic used only to pick which schema a JSON object must satisfy. */
export function looksLikeResult(value: Record<string, unknown>): boolean {
  return 'success' in value || 'response' in value
}

export function looksLikeRequest(value: Record<string, unknown>): boolean {
  return 'processing_id' in value && ('callback_url' in value || 'resume' in value || 'requirements' in value)
}
