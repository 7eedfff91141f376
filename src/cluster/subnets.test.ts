import test from 'ava';
import { podIPs, podRangesFromNodes, rangeFromValidationMessage, serviceIPs } from './subnets.ts';

test('the 422 message names the service range (single and dual stack)', (t) => {
  t.deepEqual(
    rangeFromValidationMessage(
      'Service "devnet-range-probe" is invalid: spec.clusterIPs: Invalid value: []string{"1.1.1.1"}: failed to allocate IP 1.1.1.1: provided IP is not in the valid range. The range of valid IPs is 10.96.0.0/12',
    ),
    ['10.96.0.0/12'],
  );
  t.deepEqual(rangeFromValidationMessage('... The range of valid IPs is 10.96.0.0/12 and fd00:10:96::/108'), [
    '10.96.0.0/12',
    'fd00:10:96::/108',
  ]);
  t.deepEqual(
    rangeFromValidationMessage('spec.clusterIPs: Invalid value: "1.1.1.1": provided IP is not in the valid range'),
    [],
  );
});

test('service IPs skip headless and ExternalName services', (t) => {
  t.deepEqual(
    serviceIPs([
      { spec: { clusterIP: '10.96.0.1', clusterIPs: ['10.96.0.1'] } },
      { spec: { clusterIP: 'None' } },
      { spec: { type: 'ExternalName', externalName: 'x.example' } },
      { spec: { clusterIP: '10.100.3.4' } },
    ]),
    ['10.96.0.1', '10.100.3.4'],
  );
});

test('pod ranges come from node podCIDRs, merged', (t) => {
  t.deepEqual(
    podRangesFromNodes([
      { spec: { podCIDRs: ['10.244.0.0/24'] } },
      { spec: { podCIDR: '10.244.1.0/24' } },
      { spec: { podCIDRs: ['10.244.0.0/16', 'bogus'] } },
      { spec: {} },
    ]).map((c) => c.text),
    ['10.244.0.0/16'],
  );
});

test('pod IPs skip host-network pods', (t) => {
  t.deepEqual(
    podIPs([
      { spec: { containers: [] }, status: { podIPs: [{ ip: '10.244.0.5' }] } },
      { spec: { containers: [], hostNetwork: true }, status: { podIPs: [{ ip: '192.0.2.10' }] } },
    ]),
    ['10.244.0.5'],
  );
});
