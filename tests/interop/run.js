#!/usr/bin/env node
// Interop check: nsqjs (a client nobody in this repository wrote) against the embedded server.
//
// Starts samples/EmbeddedServer (nsqd + an in-process nsqlookupd, all on free loopback ports), then:
//   - publishes PUB_COUNT messages with PUB and MPUB_COUNT with one MPUB (nsqjs Writer);
//   - consumes them on channel "direct" with a Reader connected straight to nsqd: one message is
//     requeued once (REQ), one is held longer than the server's msg-timeout while being TOUCHed;
//   - consumes them on channel "lookup" with a Reader that finds nsqd through nsqlookupd's /lookup;
//   - checks exact counts: every message finished once per channel, deliveries = published + requeued,
//     no redelivery of the touched message, the requeued one came back with attempts = 2;
//   - stops the server with SIGTERM and expects a clean exit (code 0).
// Exits non-zero on any mismatch, client error or timeout, and always kills the server.
'use strict'

const {spawn, spawnSync} = require('child_process')
const fs = require('fs')
const http = require('http')
const path = require('path')
const nsq = require('nsqjs')

const TOTAL_TIMEOUT_MS = 60000
const MSG_TIMEOUT_MS = 1500
const PUB_COUNT = 20
const MPUB_COUNT = 80
const TOPIC = 'interop.nsqjs'
const REQUEUE_BODY = 'msg-7'
const TOUCH_BODY = 'msg-13'
const TOUCH_HOLD_MS = 3500
const TOUCH_EVERY_MS = 300
const QUIET_MS = 1500

const repoRoot = path.resolve(__dirname, '..', '..')
const sampleProject = path.join(repoRoot, 'samples', 'EmbeddedServer', 'EmbeddedServer.csproj')

let server = null
let finished = false
const clients = []

function log(...args) {
  console.log('[interop]', ...args)
}

function fail(message) {
  if (finished) return
  finished = true
  console.error(`[interop] FAIL: ${message}`)
  cleanup().then(() => process.exit(1))
}

async function cleanup() {
  for (const client of clients) {
    try {
      client.close()
    } catch (e) {
      // already closed
    }
  }
  if (server && server.exitCode === null) {
    server.kill('SIGKILL')
  }
}

function findServerDll() {
  for (const config of ['Debug', 'Release']) {
    const dll = path.join(repoRoot, 'samples', 'EmbeddedServer', 'bin', config, 'net10.0', 'EmbeddedServer.dll')
    if (fs.existsSync(dll)) return dll
  }
  return null
}

function startServer() {
  let dll = findServerDll()
  if (!dll) {
    log('building samples/EmbeddedServer')
    const build = spawnSync('dotnet', ['build', sampleProject, '-c', 'Debug', '--nologo', '-v', 'q'], {stdio: 'inherit'})
    if (build.status !== 0) throw new Error('dotnet build of samples/EmbeddedServer failed')
    dll = findServerDll()
    if (!dll) throw new Error('EmbeddedServer.dll not found after the build')
  }

  const args = [
    dll,
    '--tcp-address=127.0.0.1:0',
    '--http-address=127.0.0.1:0',
    `--msg-timeout=${MSG_TIMEOUT_MS}ms`,
    '--with-nsqlookupd',
    '--nsqlookupd-tcp-address=127.0.0.1:0',
    '--nsqlookupd-http-address=127.0.0.1:0',
  ]
  log('starting', ['dotnet', ...args].join(' '))
  server = spawn('dotnet', args, {stdio: ['ignore', 'pipe', 'pipe']})
  server.stderr.on('data', (d) => process.stderr.write(`[server] ${d}`))

  return new Promise((resolve, reject) => {
    const addresses = {}
    let buffered = ''
    server.stdout.on('data', (data) => {
      process.stdout.write(`[server] ${data}`)
      buffered += data.toString()
      let newline
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim()
        buffered = buffered.slice(newline + 1)
        let m
        if ((m = /^nsqd listening: tcp=(\S+) http=(\S+)/.exec(line))) {
          addresses.nsqdTcp = m[1]
          addresses.nsqdHttp = m[2]
        } else if ((m = /^nsqlookupd listening: tcp=(\S+) http=(\S+)/.exec(line))) {
          addresses.lookupdTcp = m[1]
          addresses.lookupdHttp = m[2]
        } else if (line === 'ready') {
          resolve(addresses)
        }
      }
    })
    server.on('exit', (code, signal) => {
      if (!finished) reject(new Error(`server exited early (code ${code}, signal ${signal})`))
    })
  })
}

function httpRequest(method, address, pathAndQuery) {
  return new Promise((resolve, reject) => {
    const [host, port] = splitHostPort(address)
    const req = http.request({host, port, method, path: pathAndQuery, headers: {'Content-Length': 0}}, (res) => {
      let body = ''
      res.on('data', (d) => (body += d))
      res.on('end', () => resolve({status: res.statusCode, body}))
    })
    req.on('error', reject)
    req.end()
  })
}

function splitHostPort(address) {
  const colon = address.lastIndexOf(':')
  return [address.slice(0, colon), Number(address.slice(colon + 1))]
}

async function waitFor(what, condition, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await condition()) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting until ${what}`)
}

function expect(condition, message) {
  if (!condition) throw new Error(message)
}

function publish(writer, msgs) {
  return new Promise((resolve, reject) => {
    writer.publish(TOPIC, msgs, (err) => (err ? reject(err) : resolve()))
  })
}

// A consumer that records every delivery and the responses it made, per message body.
function startReader(channel, options, onMessage) {
  const stats = {deliveries: 0, byBody: new Map(), errors: []}
  const reader = new nsq.Reader(TOPIC, channel, {maxInFlight: 10, ...options})
  clients.push(reader)
  reader.on('error', (err) => stats.errors.push(`${channel}: ${err && err.message ? err.message : err}`))
  reader.on('message', (msg) => {
    stats.deliveries++
    const body = msg.body.toString()
    const entry = stats.byBody.get(body) || {deliveries: 0, finished: 0, requeued: 0, attempts: [], ids: new Set()}
    entry.deliveries++
    entry.attempts.push(msg.attempts)
    entry.ids.add(msg.id)
    stats.byBody.set(body, entry)
    onMessage(msg, body, entry)
  })
  const ready = new Promise((resolve) => reader.on('nsqd_connected', resolve))
  reader.connect()
  return {reader, stats, ready}
}

async function main() {
  const watchdog = setTimeout(() => fail(`no result within ${TOTAL_TIMEOUT_MS / 1000} s`), TOTAL_TIMEOUT_MS)
  watchdog.unref()

  const addresses = await startServer()
  expect(addresses.nsqdTcp && addresses.nsqdHttp && addresses.lookupdHttp, `server printed no addresses: ${JSON.stringify(addresses)}`)
  log('server ready', JSON.stringify(addresses))

  // Both channels exist before anything is published, so each gets every message.
  for (const p of [`/topic/create?topic=${TOPIC}`, `/channel/create?topic=${TOPIC}&channel=direct`, `/channel/create?topic=${TOPIC}&channel=lookup`]) {
    const res = await httpRequest('POST', addresses.nsqdHttp, p)
    expect(res.status === 200, `nsqd POST ${p} answered ${res.status} ${res.body}`)
  }
  await waitFor('nsqlookupd lists the nsqd for the topic', async () => {
    const res = await httpRequest('GET', addresses.lookupdHttp, `/lookup?topic=${TOPIC}`)
    return res.status === 200 && JSON.parse(res.body).producers.length === 1
  })

  const total = PUB_COUNT + MPUB_COUNT
  const bodies = Array.from({length: total}, (_, i) => `msg-${i}`)

  const direct = startReader('direct', {nsqdTCPAddresses: [addresses.nsqdTcp]}, (msg, body, entry) => {
    if (body === REQUEUE_BODY && entry.deliveries === 1) {
      entry.requeued++
      msg.requeue(0, false)
    } else if (body === TOUCH_BODY) {
      // Held well past msg-timeout: only the TOUCHes keep nsqd from redelivering it.
      const timer = setInterval(() => msg.touch(), TOUCH_EVERY_MS)
      setTimeout(() => {
        clearInterval(timer)
        entry.finished++
        msg.finish()
      }, TOUCH_HOLD_MS)
    } else {
      entry.finished++
      msg.finish()
    }
  })
  const viaLookupd = startReader('lookup', {lookupdHTTPAddresses: [addresses.lookupdHttp], lookupdPollInterval: 1}, (msg, body, entry) => {
    entry.finished++
    msg.finish()
  })
  await Promise.all([direct.ready, viaLookupd.ready])
  log('both readers connected')

  const writer = new nsq.Writer(...splitHostPort(addresses.nsqdTcp))
  clients.push(writer)
  const writerErrors = []
  writer.on('error', (err) => writerErrors.push(err && err.message ? err.message : String(err)))
  await new Promise((resolve) => {
    writer.on('ready', resolve)
    writer.connect()
  })
  for (let i = 0; i < PUB_COUNT; i++) {
    await publish(writer, bodies[i])
  }
  await publish(writer, bodies.slice(PUB_COUNT))
  log(`published ${PUB_COUNT} with PUB and ${MPUB_COUNT} with one MPUB`)

  const finishedAll = (stats) => bodies.every((b) => (stats.byBody.get(b) || {finished: 0}).finished >= 1)
  await waitFor('every message is finished on both channels', async () => finishedAll(direct.stats) && finishedAll(viaLookupd.stats), 40000)
  // Give a stray redelivery (a TOUCH that did not work, a duplicate) the chance to show up.
  await new Promise((r) => setTimeout(r, QUIET_MS))

  const problems = []
  for (const [name, stats, requeues] of [['direct', direct.stats, 1], ['lookup', viaLookupd.stats, 0]]) {
    problems.push(...stats.errors)
    if (stats.deliveries !== total + requeues) {
      problems.push(`${name}: ${stats.deliveries} deliveries, expected ${total + requeues} (published ${total} + requeued ${requeues})`)
    }
    if (stats.byBody.size !== total) problems.push(`${name}: ${stats.byBody.size} distinct bodies, expected ${total}`)
    for (const body of bodies) {
      const entry = stats.byBody.get(body)
      if (!entry) {
        problems.push(`${name}: ${body} never delivered`)
        continue
      }
      if (entry.finished !== 1) problems.push(`${name}: ${body} finished ${entry.finished} times`)
      if (entry.ids.size !== 1) problems.push(`${name}: ${body} arrived with ${entry.ids.size} different ids`)
      const expected = name === 'direct' && body === REQUEUE_BODY ? [1, 2] : [1]
      if (JSON.stringify(entry.attempts) !== JSON.stringify(expected)) {
        problems.push(`${name}: ${body} attempts ${JSON.stringify(entry.attempts)}, expected ${JSON.stringify(expected)}`)
      }
    }
  }
  problems.push(...writerErrors.map((e) => `writer: ${e}`))

  // nsqd's own view must agree: nothing left in flight or queued on either channel.
  const stats = await httpRequest('GET', addresses.nsqdHttp, `/stats?format=json&topic=${TOPIC}`)
  if (stats.status !== 200) {
    problems.push(`nsqd /stats answered ${stats.status}`)
  } else {
    const topic = JSON.parse(stats.body).topics.find((t) => t.topic_name === TOPIC)
    if (!topic) problems.push('nsqd /stats does not list the topic')
    else {
      if (topic.message_count !== total) problems.push(`nsqd message_count ${topic.message_count}, expected ${total}`)
      for (const ch of topic.channels) {
        if (ch.depth !== 0 || ch.in_flight_count !== 0) {
          problems.push(`nsqd channel ${ch.channel_name}: depth ${ch.depth}, in flight ${ch.in_flight_count}`)
        }
        const requeues = ch.channel_name === 'direct' ? 1 : 0
        if (ch.requeue_count !== requeues) problems.push(`nsqd channel ${ch.channel_name}: requeue_count ${ch.requeue_count}, expected ${requeues}`)
        if (ch.timeout_count !== 0) problems.push(`nsqd channel ${ch.channel_name}: timeout_count ${ch.timeout_count}, expected 0`)
      }
    }
  }

  if (problems.length > 0) {
    fail(problems.join('\n  '))
    return
  }

  log(`direct: ${direct.stats.deliveries} deliveries, lookup: ${viaLookupd.stats.deliveries} deliveries, all finished once`)
  for (const client of clients) client.close()
  clients.length = 0

  // A clean stop on SIGTERM is part of the sample's contract.
  const exit = new Promise((resolve) => server.on('exit', (code, signal) => resolve({code, signal})))
  finished = true
  server.kill('SIGTERM')
  const stopTimer = setTimeout(() => server.kill('SIGKILL'), 10000)
  const {code, signal} = await exit
  clearTimeout(stopTimer)
  if (code !== 0) {
    console.error(`[interop] FAIL: server exited with code ${code} (signal ${signal}) after SIGTERM`)
    process.exit(1)
  }

  log('OK')
  process.exit(0)
}

process.on('unhandledRejection', (err) => fail(err && err.stack ? err.stack : String(err)))
process.on('SIGINT', () => fail('interrupted'))
main().catch((err) => fail(err && err.stack ? err.stack : String(err)))
