// Bluesky's reference servers, run for relay's tests: the PDS (@atproto/pds), with the AppView
// (@atproto/bsky) that answers app.bsky.feed.* through it and a PLC directory (@did-plc/server, in
// memory), all from @atproto/dev-env, the network bluesky-social/atproto runs its own tests on.
// Driven by tests/real_pds.py; not a server to deploy.
//
// Environment: DB_POSTGRES_URL, a PostgreSQL database of the AppView's and Ozone's own (the caller
// creates and drops it); REDIS_HOST (host:port); TMPDIR, where the PDS keeps its SQLite files and
// blobs (the caller removes it).
//
// Protocol: one JSON line on stdout once every server answers, {"pds", "appview", "plc"} (URLs);
// then each line "sync" read on stdin makes the AppView index everything the PDS has committed
// and answers "synced" (or "error <message>"). End of stdin, or SIGTERM/SIGINT, stops every server
// and exits 0. Logs and warnings go to stderr.
import { TestNetwork } from '@atproto/dev-env'
import readline from 'node:readline'

const say = (line) => process.stdout.write(line + '\n')

let network
let stopping = false
const stop = async (code = 0) => {
  if (stopping) return
  stopping = true
  try {
    await network?.close()
  } catch (err) {
    process.stderr.write(`run_pds: closing failed: ${err?.stack ?? err}\n`)
    code = code || 1
  }
  process.exit(code)
}
process.on('SIGTERM', () => stop(0))
process.on('SIGINT', () => stop(0))

try {
  network = await TestNetwork.create({
    dbPostgresSchema: process.env.RELAY_PDS_SCHEMA || 'relay',
    pds: { hostname: 'localhost' },
  })
} catch (err) {
  process.stderr.write(`run_pds: the network did not start: ${err?.stack ?? err}\n`)
  await stop(1)
}
say(JSON.stringify({ pds: network.pds.url, appview: network.bsky.url, plc: network.plc.url }))

const input = readline.createInterface({ input: process.stdin })
input.on('line', async (line) => {
  if (line.trim() !== 'sync') return say(`error unknown command ${JSON.stringify(line)}`)
  try {
    await network.processAll(10_000)
    say('synced')
  } catch (err) {
    say(`error ${String(err?.message ?? err).split('\n')[0]}`)
  }
})
input.on('close', () => stop(0))
