// A real AT Protocol PDS and PLC directory on loopback, for Herald's Bluesky tests.
//
//   node start.mjs <data directory>
//
// Starts @did-plc/server (an in-memory PLC directory) and @atproto/pds on free loopback
// ports, then prints one line of JSON, {"pds": "http://127.0.0.1:…", "plc": "…"}, and runs
// until it is sent SIGTERM. Run from the folder where package.json's packages are
// installed (tests/process/pds.py installs them into ~/.cache/herald-pds).
import { createRequire } from 'node:module'
import net from 'node:net'
import path from 'node:path'
import fs from 'node:fs'

const require = createRequire(path.join(process.cwd(), 'package.json'))
const plcServer = require('@did-plc/server')
const pdsLib = require('@atproto/pds')
const crypto = require('@atproto/crypto')

const freePort = () => new Promise((resolve, reject) => {
  const server = net.createServer()
  server.once('error', reject)
  server.listen(0, '127.0.0.1', () => {
    const { port } = server.address()
    server.close(() => resolve(port))
  })
})

const dir = path.resolve(process.argv[2] || 'pds-data')
fs.mkdirSync(path.join(dir, 'blobs'), { recursive: true })

const plcPort = await freePort()
const plc = plcServer.PlcServer.create({ db: plcServer.Database.mock(), port: plcPort })
await plc.start()
const plcUrl = `http://127.0.0.1:${plcPort}`

const pdsPort = await freePort()
const rotation = await crypto.Secp256k1Keypair.create({ exportable: true })
const hex = Buffer.from(await rotation.export()).toString('hex')
Object.assign(process.env, {
  PDS_PORT: String(pdsPort),
  PDS_HOSTNAME: 'localhost',
  PDS_DEV_MODE: 'true',
  PDS_DATA_DIRECTORY: dir,
  PDS_BLOBSTORE_DISK_LOCATION: path.join(dir, 'blobs'),
  PDS_DID_PLC_URL: plcUrl,
  PDS_JWT_SECRET: 'herald-test-jwt-secret',
  PDS_ADMIN_PASSWORD: 'herald-test-admin',
  PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: hex,
  PDS_INVITE_REQUIRED: 'false',
  PDS_SERVICE_HANDLE_DOMAINS: '.test',
  PDS_RATE_LIMITS_ENABLED: 'false',
  PDS_CRAWLERS: '',
  LOG_ENABLED: 'false',
})
const env = pdsLib.readEnv()
const pds = await pdsLib.PDS.create(pdsLib.envToCfg(env), pdsLib.envToSecrets(env))
await pds.start()
console.log(JSON.stringify({ pds: `http://127.0.0.1:${pdsPort}`, plc: plcUrl }))

const stop = async () => {
  await pds.destroy()
  await plc.destroy()
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
