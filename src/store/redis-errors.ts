// What a failed Redis command means for the pipeline: a key holding another type (written
// by something else) gives the same answer every time, so it is final (STORE_REJECTED);
// anything else is Redis being away or failing over, tried again (STORE_UNAVAILABLE).
import { ErrorCodes, InfrastructureError, NotificationError } from '../errors.ts'

export async function redisCall<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation()
  } catch (error) {
    const message = (error as Error).message
    if (message.startsWith('WRONGTYPE')) throw new NotificationError(ErrorCodes.STORE_REJECTED, `Redis: ${message}`, false, { cause: error })
    throw new InfrastructureError(ErrorCodes.STORE_UNAVAILABLE, `Redis: ${message}`, { cause: error })
  }
}
