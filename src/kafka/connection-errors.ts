// @platformatic/kafka (2.12) emits 'error' on a broker connection, and its connection pool
// listens to that only once (connection-pool.js: `connection.once('error', …)`). A second
// error on the same connection — the soak saw one when a broker was killed during SASL
// re-authentication — then has no listener, and Node turns it into an uncaught exception:
// one broker's death would take down the whole replica. So every client of ours listens to
// each connection it opens for as long as the connection lives. The error changes nothing
// else: the requests on that connection fail and the client retries them, as it would have.

/** What the client says when it has opened a connection to a broker (its 'client:broker:connect' event). */
interface BrokerConnected {
  readonly broker: { readonly host: string; readonly port: number }
  readonly connection: { on(event: 'error', listener: (error: Error) => void): unknown }
}

interface KafkaClientEvents {
  on(event: 'client:broker:connect', listener: (connected: BrokerConnected) => void): unknown
}

/** `client`, each of whose broker connections now has an error listener for life; `onError` hears each error. */
export function listenToConnectionErrors<Client extends KafkaClientEvents>(client: Client, onError: (error: Error, broker: string) => void = () => undefined): Client {
  client.on('client:broker:connect', ({ broker, connection }) => {
    connection.on('error', (error) => onError(error, `${broker.host}:${broker.port}`))
  })
  return client
}
