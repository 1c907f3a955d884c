// Sample messages in the shapes of contract §1.
export function successResult(processingId: number, callbackUrl: string | undefined, extra: Record<string, unknown> = {}) {
  return {
    success: true,
    response: {
      ...(callbackUrl === undefined ? {} : { callback_url: callbackUrl }),
      processing_id: processingId,
      user_id: 2,
      resume_id: 3,
      requirements_id: 4,
      score: 50,
      matches: ['Python', 'SQL'],
      recommendation: 'Invite to an interview',
      verdict: 'suitable',
      ...extra,
    },
    message_error: null,
    wait_seconds: null,
  }
}

export function failureResult(processingId: number, callbackUrl: string, messageError: string, waitSeconds: number | null = null) {
  return {
    success: false,
    response: { callback_url: callbackUrl, processing_id: processingId, user_id: 2, resume_id: 3, requirements_id: 4, score: null, matches: null, recommendation: null, verdict: null },
    message_error: messageError,
    wait_seconds: waitSeconds,
  }
}

export function processingRequest(processingId: number, callbackUrl: string) {
  return { callback_url: callbackUrl, processing_id: processingId, user_id: 2, resume_id: 3, requirements_id: 4, requirements: 'SQL, Python', resume: 'Ten years of SQL' }
}

let next = Date.now() * 1000
/** Processing ids unique across runs, so Redis markers from earlier runs never interfere. */
export function newProcessingId(): number {
  return next++
}
