// An experiment, not a setting: preloaded with
//   npm run bench -- --node-arg=--import=./bench/lib/experiment-in-flight.ts --env EXPERIMENT_IN_FLIGHT=N
// pins every consumer loop's adaptive in-flight limit (src/kafka/in-flight-limit.ts) at N,
// to see what the adaptive limit costs a backlog drain on one fast origin (docs/performance.md,
// "Where a notification's time goes"). The service is otherwise unchanged.
import { InFlightLimit } from '../../src/kafka/in-flight-limit.ts'

const pinned = Number(process.env.EXPERIMENT_IN_FLIGHT)
if (Number.isInteger(pinned) && pinned > 0) {
  Object.defineProperty(InFlightLimit.prototype, 'value', { get: () => pinned, configurable: true })
}
