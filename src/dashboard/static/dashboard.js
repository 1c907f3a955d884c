// The dashboard page: asks for the admin token once (kept in this tab's sessionStorage),
// then polls the admin API with it. Everything shown comes from /admin/* with
// `Authorization: Bearer <token>`; the page itself holds no data.
/* global refreshDestinations */
'use strict'

const ACTIVITY_EVERY_MS = 2000
const DEAD_LETTERS_EVERY_MS = 10000
const ORIGINS_EVERY_MS = 3000
const DESTINATIONS_EVERY_MS = 5000
const TOKEN_KEY = 'notification-service-admin-token'

const $ = (selector) => document.querySelector(selector)
let chart
let timers = []

async function api(path, options = {}) {
  const token = sessionStorage.getItem(TOKEN_KEY)
  const response = await fetch(path, { ...options, headers: { authorization: `Bearer ${token}`, ...(options.body ? { 'content-type': 'application/json' } : {}) } })
  if (response.status === 401) {
    signOut('The token was refused.')
    throw new Error('unauthorized')
  }
  const body = await response.json()
  if (!response.ok) throw new Error(body.error || `HTTP ${response.status}`)
  return body
}

function cell(row, text, className) {
  const td = row.insertCell()
  td.textContent = text === null || text === undefined ? '' : String(text)
  if (className) td.className = className
  return td
}

function timeOf(iso) {
  return iso ? new Date(iso).toLocaleTimeString() : ''
}

function sum(values, from = 0) {
  let total = 0
  for (let i = from; i < values.length; i++) total += values[i]
  return total
}

function drawChart(series) {
  const data = [series.t.map((t) => t / 1000), series.delivered, series.failed]
  const container = $('#chart')
  if (!chart) {
    chart = new uPlot(
      {
        width: Math.max(container.clientWidth - 16, 320),
        height: 240,
        scales: { x: { time: true } },
        series: [{}, { label: 'delivered/s', stroke: '#1f8a4c', fill: 'rgba(31,138,76,0.08)', width: 2 }, { label: 'failed attempts/s', stroke: '#b3261e', width: 2 }],
        axes: [{}, { label: 'per second' }],
      },
      data,
      container,
    )
  } else {
    chart.setData(data)
  }
  container.dataset.delivered = String(sum(series.delivered))
  container.dataset.failed = String(sum(series.failed))
  container.dataset.updates = String(Number(container.dataset.updates) + 1)
}

function showActivity(activity) {
  $('#replica').textContent = `replica ${activity.replica} (pid ${activity.pid})`
  const last = Math.max(activity.series.t.length - 60, 0)
  const delivered = sum(activity.series.delivered, last)
  const failed = sum(activity.series.failed, last)
  $('#rate').textContent = (delivered / 60).toFixed(1)
  $('#failure-rate').textContent = delivered + failed === 0 ? '0' : `${failed} (${((100 * failed) / (delivered + failed)).toFixed(1)} %)`
  $('#total-delivered').textContent = String(activity.totals.delivered)
  $('#total-failed').textContent = String(activity.totals.failed)
  drawChart(activity.series)

  const body = $('#recent tbody')
  body.replaceChildren()
  for (const event of activity.recent) {
    const row = body.insertRow()
    row.className = event.result
    row.dataset.processingId = String(event.processing_id)
    cell(row, timeOf(event.at))
    cell(row, event.processing_id)
    cell(row, event.kind)
    cell(row, event.result, 'result')
    cell(row, event.attempts)
    cell(row, event.status_code)
    cell(row, event.duration_ms)
    cell(row, event.callback_origin)
    cell(row, event.error, 'reason')
  }
}

function showDeadLetters(view) {
  $('#dead-letter-topic').textContent = `(${view.topic}, newest ${view.letters.length} of ${view.total})`
  $('#dead-letter-count').textContent = String(view.total)
  const body = $('#dead-letters tbody')
  body.replaceChildren()
  for (const letter of view.letters) {
    const row = body.insertRow()
    row.dataset.partition = String(letter.partition)
    row.dataset.offset = letter.offset
    row.dataset.processingId = letter.processing_id === null ? '' : String(letter.processing_id)
    cell(row, timeOf(letter.stored_at))
    cell(row, letter.processing_id)
    cell(row, letter.code)
    cell(row, letter.reason, 'reason')
    cell(row, letter.attempts)
    cell(row, letter.last_status_code)
    cell(row, `${letter.partition}/${letter.offset}`)
    const actions = row.insertCell()
    if (letter.replay === 'none') continue
    const button = document.createElement('button')
    button.type = 'button'
    button.className = 'replay'
    button.textContent = letter.replayed ? 'Replay again' : letter.replay === 'poison' ? 'Replay record' : 'Replay'
    button.addEventListener('click', () => replayOne(letter, button))
    actions.append(button)
  }
}

async function replayOne(letter, button) {
  button.disabled = true
  try {
    const report = await api(`/admin/dead-letters/${letter.partition}/${letter.offset}/replay`, { method: 'POST', body: JSON.stringify({ force: letter.replayed }) })
    $('#replay-status').textContent = report.replayed === 1 ? `Replayed processing_id ${letter.processing_id ?? '(none)'} (partition ${letter.partition}, offset ${letter.offset}).` : 'Already replayed.'
  } catch (error) {
    $('#replay-status').textContent = `Replay failed: ${error.message}`
  }
  await refreshDeadLetters()
}

// Replay of many: the count first (dry_run), then, on confirmation, the replay of exactly
// what was counted (the filter the count answered, its open end closed at the count's time).
let counted = null

function listOf(text) {
  return text.split(/[\s,]+/).filter((item) => item !== '')
}

function filterFromForm() {
  const body = {}
  const since = $('#filter-since').value.trim()
  const until = $('#filter-until').value.trim()
  if (since) body.since = since
  if (until) body.until = until
  if (listOf($('#filter-origin').value).length > 0) body.origin = listOf($('#filter-origin').value)
  if (listOf($('#filter-code').value).length > 0) body.code = listOf($('#filter-code').value)
  if ($('#filter-poison').checked) body.include_poison = true
  return body
}

function forgetCount(text) {
  counted = null
  $('#filter-replay').hidden = true
  $('#filter-count').dataset.selected = ''
  $('#filter-count').textContent = text || ''
}

async function countMatching(body) {
  forgetCount('Counting…')
  try {
    const answer = await api('/admin/dead-letters/replay', { method: 'POST', body: JSON.stringify({ ...body, dry_run: true }) })
    const before = answer.alreadyReplayed > 0 ? `; ${answer.alreadyReplayed} replayed before (skipped)` : ''
    $('#filter-count').textContent = `${answer.selected} dead letter(s) match: ${answer.notifications} notification(s), ${answer.poison} poison record(s)${before}.`
    $('#filter-count').dataset.selected = String(answer.selected)
    if (answer.selected === 0) return
    counted = { ...answer.filter, ...(body.include_poison ? { include_poison: true } : {}) }
    $('#filter-replay').textContent = `Replay these ${answer.selected}`
    $('#filter-replay').hidden = false
  } catch (error) {
    forgetCount(`Cannot count: ${error.message}`)
  }
}

async function replayCounted() {
  if (!counted) return
  const body = counted
  forgetCount('')
  $('#replay-status').textContent = 'Replaying…'
  try {
    const report = await api('/admin/dead-letters/replay', { method: 'POST', body: JSON.stringify(body) })
    $('#replay-status').textContent = `Replayed ${report.replayed} of ${report.selected} dead letter(s); ${report.alreadyReplayed} had been replayed before.`
  } catch (error) {
    $('#replay-status').textContent = `Replay failed: ${error.message}`
  }
  await refreshDeadLetters()
}

function showOrigins(view) {
  const body = $('#origins tbody')
  body.replaceChildren()
  for (const entry of view.origins) {
    const row = body.insertRow()
    row.dataset.origin = entry.origin
    row.dataset.state = entry.state
    cell(row, entry.origin)
    cell(row, entry.state, `state ${entry.state}`)
    cell(row, entry.circuit)
    cell(row, entry.rate_limit_per_second)
    cell(row, timeOf(entry.held_until))
    cell(row, entry.parked)
    cell(row, entry.pause ? `${entry.pause.by}, ${timeOf(entry.pause.since)}: ${entry.pause.reason}${entry.pause.last_error ? ` (${entry.pause.last_error})` : ''}` : '', 'reason')
    const button = document.createElement('button')
    button.type = 'button'
    button.className = entry.pause ? 'resume' : 'pause'
    button.textContent = entry.pause ? 'Resume' : 'Pause'
    button.addEventListener('click', () => setPaused(entry.origin, !entry.pause, button))
    row.insertCell().append(button)
  }
}

async function setPaused(origin, pause, button) {
  if (button) button.disabled = true
  try {
    const view = await api(`/admin/origins/${pause ? 'pause' : 'resume'}`, { method: 'POST', body: JSON.stringify({ origin, ...(pause ? { reason: 'paused from the dashboard' } : {}) }) })
    $('#origin-status').textContent = pause ? `Paused ${view.origin}: its notifications wait until it is resumed.` : `Resumed ${view.origin}: its parked notifications are being sent, oldest first.`
  } catch (error) {
    $('#origin-status').textContent = `${pause ? 'Pause' : 'Resume'} failed: ${error.message}`
  }
  await refreshOrigins()
}

async function refreshOrigins() {
  try {
    showOrigins(await api('/admin/origins'))
  } catch (error) {
    $('#origin-status').textContent = `Origins unavailable: ${error.message}`
  }
}

function setConnection(text, className) {
  const badge = $('#connection')
  badge.textContent = text
  badge.className = `badge ${className}`
}

async function refreshActivity() {
  try {
    showActivity(await api('/admin/activity'))
    setConnection('live', 'live')
  } catch (error) {
    setConnection(`unreachable: ${error.message}`, 'down')
  }
}

async function refreshDeadLetters() {
  try {
    showDeadLetters(await api('/admin/dead-letters?limit=50'))
  } catch (error) {
    $('#replay-status').textContent = `Dead letters unavailable: ${error.message}`
  }
}

async function start() {
  $('#login').hidden = true
  $('#dashboard').hidden = false
  $('#sign-out').hidden = false
  await Promise.all([refreshActivity(), refreshDeadLetters(), refreshOrigins(), refreshDestinations()])
  timers = [
    setInterval(refreshActivity, ACTIVITY_EVERY_MS),
    setInterval(refreshDeadLetters, DEAD_LETTERS_EVERY_MS),
    setInterval(refreshOrigins, ORIGINS_EVERY_MS),
    setInterval(refreshDestinations, DESTINATIONS_EVERY_MS),
  ]
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY)
  for (const timer of timers) clearInterval(timer)
  timers = []
  $('#dashboard').hidden = true
  $('#login').hidden = false
  $('#sign-out').hidden = true
  $('#login-error').textContent = message || ''
  setConnection('not signed in', '')
}

$('#login-form').addEventListener('submit', (event) => {
  event.preventDefault()
  sessionStorage.setItem(TOKEN_KEY, $('#token').value)
  $('#login-error').textContent = ''
  start()
})
$('#sign-out').addEventListener('click', () => signOut())
$('#replay-all').addEventListener('click', () => countMatching({}))
$('#replay-filter').addEventListener('submit', (event) => {
  event.preventDefault()
  countMatching(filterFromForm())
})
// A changed filter is not what was counted: count again before replaying.
$('#replay-filter').addEventListener('input', () => forgetCount(''))
$('#filter-replay').addEventListener('click', replayCounted)
$('#pause-form').addEventListener('submit', (event) => {
  event.preventDefault()
  setPaused($('#pause-origin').value, true)
})
if (sessionStorage.getItem(TOKEN_KEY)) start()
