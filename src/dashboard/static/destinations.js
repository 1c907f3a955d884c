// The dashboard's "Destinations" section: CALLBACK_DESTINATIONS_FILE as in force, from
// GET /admin/destinations (which redacts every secret: header values, credentials, key and
// certificate contents never reach the page). Uses api(), cell() and timeOf() of dashboard.js,
// loaded after this file; nothing here runs before dashboard.js calls refreshDestinations().
/* global api, cell, timeOf */
/* exported refreshDestinations */
'use strict'

async function refreshDestinations() {
  try {
    showDestinations(await api('/admin/destinations'))
  } catch (error) {
    document.querySelector('#destinations-reload').textContent = `Destinations unavailable: ${error.message}`
  }
}

function authText(auth) {
  if (!auth) return ''
  if (auth.kind === 'basic') return `basic (${auth.username})`
  if (auth.kind === 'oauth2_client_credentials') {
    const scope = auth.scope ? `, scope ${auth.scope}` : ''
    const audience = auth.audience ? `, audience ${auth.audience}` : ''
    return `OAuth2 client ${auth.client_id} at ${auth.token_url} (${auth.client_auth}${scope}${audience})`
  }
  return auth.kind
}

function tlsText(tls) {
  if (!tls) return ''
  return [tls.ca_file && `CA ${tls.ca_file}`, tls.cert_file && `client certificate ${tls.cert_file}`, tls.key_file && `key ${tls.key_file}`].filter(Boolean).join(', ')
}

function limitsText(destination) {
  return [
    destination.timeout_ms !== null && `timeout ${destination.timeout_ms} ms`,
    destination.rate_limit_per_second !== null && `${destination.rate_limit_per_second}/s`,
    destination.max_connections !== null && `${destination.max_connections} connections`,
  ]
    .filter(Boolean)
    .join(', ')
}

function reloadText(view) {
  const reload = view.last_reload
  const loaded = `loaded ${timeOf(view.loaded_at)}`
  if (!reload) return loaded
  if (reload.applied) return `${loaded}; last reload ${timeOf(reload.at)}: applied`
  return `${loaded}; last reload ${timeOf(reload.at)}: refused, the file loaded before stays in force: ${reload.problem ?? ''}`
}

function showDestinations(view) {
  const status = document.querySelector('#destinations-reload')
  document.querySelector('#destinations-file').textContent = view.file ? `(${view.file})` : '(no CALLBACK_DESTINATIONS_FILE: every origin on the defaults)'
  status.textContent = view.file ? reloadText(view) : ''
  status.className = view.last_reload && !view.last_reload.applied ? 'refused' : ''
  const body = document.querySelector('#destinations tbody')
  body.replaceChildren()
  for (const destination of view.destinations) {
    const row = body.insertRow()
    row.dataset.pattern = destination.pattern
    row.dataset.auth = destination.auth ? destination.auth.kind : ''
    cell(row, destination.pattern)
    cell(row, authText(destination.auth), 'reason')
    cell(row, destination.token_valid_until ? new Date(destination.token_valid_until).toLocaleString() : '', 'token')
    cell(row, Object.keys(destination.headers).join(', '))
    cell(row, tlsText(destination.tls), 'reason')
    cell(row, limitsText(destination))
    cell(row, destination.recent_origins.map((seen) => `${seen.origin} (${timeOf(seen.at)})`).join(', '), 'reason')
  }
}
