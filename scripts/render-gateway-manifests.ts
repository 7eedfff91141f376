// Writes cluster-images/gateway/gateway.yaml from src/cluster/gateway-manifests.ts
// (test/gateway-manifests.test.ts fails when the file is stale).
import { writeFileSync } from 'node:fs';
import { renderGatewayYaml } from '../src/cluster/gateway-manifests.ts';

const out = new URL('../cluster-images/gateway/gateway.yaml', import.meta.url);
writeFileSync(out, renderGatewayYaml());
process.stdout.write(`wrote ${out.pathname}\n`);
