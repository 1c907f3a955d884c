// What a failed attempt says about the client's endpoint, decided in one place: the origin
// gate counts the unwell answers towards opening its circuit, and the retry policy waits
// longer after an endpoint asked us to slow down.
import { ErrorCodes, type DeliveryError } from '../errors.ts'

export type EndpointSignal =
  /** Asked us to slow down (429) or did not answer in time: unwell, and the next try waits longer. */
  | 'overloaded'
  /** Could not be reached, or answered 5xx: unwell. */
  | 'unwell'
  /** Answered, but refused this notification (4xx but 429, 410, redirects) or we refused to send: the endpoint itself is fine. */
  | 'fine'

export function endpointSignal(error: DeliveryError): EndpointSignal {
  if (error.code === ErrorCodes.DELIVERY_TIMEOUT || error.statusCode === 429) return 'overloaded'
  if (error.code === ErrorCodes.DELIVERY_NETWORK) return 'unwell'
  if (error.statusCode !== undefined && error.statusCode >= 500) return 'unwell'
  return 'fine'
}
