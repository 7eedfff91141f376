// fake-upstream serves the fake internet's DNS zone (dns-support/fixture.ts)
// on ADDRESS:53 — run inside a test namespace, it is the laptop's DNS server
// "before devnet". Usage: fake-upstream.ts ADDRESS
import { INTERNET } from '../dns-support/fixture.ts';
import { serveUpstream } from '../dns-support/upstream.ts';

const address = process.argv[2] ?? '127.0.0.1';
await serveUpstream(INTERNET, { address, port: 53 });
process.stdout.write('ready\n');
