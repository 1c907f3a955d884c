// In a Redis Cluster one script call may only touch keys of one hash slot: a batch of
// notifications is split into one call per slot (the client pipelines them per node), and
// the answers are put back in the batch's order.
import slotOf from 'cluster-key-slot'

/** Runs `run` once per slot of `slotKey(item)` (the whole batch at once when not clustered); answers in the items' order. */
export async function perSlot<I, O>(clustered: boolean, items: readonly I[], slotKey: (item: I) => string, run: (group: readonly I[]) => Promise<O[]>): Promise<O[]> {
  if (!clustered) return run(items)
  const groups = new Map<number, number[]>()
  items.forEach((item, index) => {
    const slot = slotOf(slotKey(item))
    const group = groups.get(slot)
    if (group) group.push(index)
    else groups.set(slot, [index])
  })
  const results = new Array<O>(items.length)
  await Promise.all(
    [...groups.values()].map(async (indexes) => {
      const answers = await run(indexes.map((index) => items[index]!))
      indexes.forEach((index, i) => (results[index] = answers[i]!))
    }),
  )
  return results
}
