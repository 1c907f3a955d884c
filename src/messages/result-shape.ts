// The hot path's check of a ProcessingResult: whether processingResultSchema would accept
// it, answered by a few typeof tests instead of zod walking the schema and copying the
// object (a fifth of the CPU of classifying a record). It never accepts what the schema
// refuses (test/unit/messages/result-shape.test.ts holds it to that over every field and
// many kinds of wrong value); anything it does not accept goes to the schema, whose answer
// and whose error messages (poison reasons) stay the reference. Since the schema keeps
// unknown fields and transforms nothing, an accepted object is its own parsed value.
import { isAbsoluteHttpUrl, MAX_URL_LENGTH, type ProcessingResult } from './schemas.ts'

export function isWellFormedResult(value: Record<string, unknown>): value is ProcessingResult {
  const { success, response } = value
  if (typeof response !== 'object' || response === null || Array.isArray(response)) return false
  if (!isNullish(value.message_error) && typeof value.message_error !== 'string') return false
  if (!isNullish(value.wait_seconds) && !isNonNegativeNumber(value.wait_seconds)) return false
  const fields = response as Record<string, unknown>
  if (!isProcessingId(fields.processing_id)) return false
  if (success === true) {
    return (
      (fields.callback_url === undefined || isCallbackUrl(fields.callback_url)) &&
      Number.isSafeInteger(fields.user_id) &&
      Number.isSafeInteger(fields.resume_id) &&
      Number.isSafeInteger(fields.requirements_id) &&
      Number.isFinite(fields.score) &&
      isStringArray(fields.matches) &&
      typeof fields.recommendation === 'string' &&
      typeof fields.verdict === 'string'
    )
  }
  if (success === false) {
    return (
      (isNullish(fields.callback_url) || isCallbackUrl(fields.callback_url)) &&
      (isNullish(fields.user_id) || Number.isSafeInteger(fields.user_id)) &&
      (isNullish(fields.resume_id) || Number.isSafeInteger(fields.resume_id)) &&
      (isNullish(fields.requirements_id) || Number.isSafeInteger(fields.requirements_id))
    )
  }
  return false
}

function isNullish(value: unknown): value is null | undefined {
  return value === null || value === undefined
}

function isNonNegativeNumber(value: unknown): boolean {
  return Number.isFinite(value) && (value as number) >= 0
}

function isProcessingId(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

function isCallbackUrl(value: unknown): boolean {
  return typeof value === 'string' && value.length <= MAX_URL_LENGTH && isAbsoluteHttpUrl(value)
}

function isStringArray(value: unknown): boolean {
  if (!Array.isArray(value)) return false
  for (const item of value) if (typeof item !== 'string') return false
  return true
}
