// What a failed attempt says about the client's endpoint, decided in one place: the origin
// gate counts the unwell answers towards opening its circuit, and the retry policy waits
// longer after an endpoint asked us to slow down.
import { ErrorCodes, type DeliveryError } from '../errors.ts'

export type EndpointSignal =
  /** Asked us to slow down (429) or did not answer in time: unwell, and the next try waits longer. */
  | 'overloaded'
  /** Could not be reached, or answered 5xx: unwell. */
  | 'unwell'
  /**
   * Answered, but refused this notification (4xx but 429, 410, redirects), or the failure was
   * ours (a refused address, our egress proxy down): nothing says the endpoint is unwell.
   */
  | 'fine'

export function endpointSignal(error: DeliveryError): EndpointSignal {
  if (error.code === ErrorCodes.DELIVERY_TIMEOUT || error.statusCode === 429) return 'overloaded'
  if (error.code === ErrorCodes.DELIVERY_NETWORK) return 'unwell'
  if (error.code === ErrorCodes.CALLBACK_PROXY_UNAVAILABLE) return 'fine'
  if (error.statusCode !== undefined && error.statusCode >= 500) return 'unwell'
  return 'fine'
}
