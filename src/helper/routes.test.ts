import test from 'ava';
import { conflictError, type LocalRoute, parseIpRouteJson, planRoutes } from './routes.ts';

const base = {
  cluster: [
    { cidr: '10.96.0.0/12', why: 'service range' },
    { cidr: '10.244.0.0/16', why: 'pod range' },
  ],
  alsoProxy: [],
  neverProxy: [],
  allowConflicts: [],
  tunName: 'devnet0',
};
const hostRoutes: LocalRoute[] = [
  { dst: 'default', gateway: '192.0.2.1', dev: 'eth0' },
  { dst: '192.0.2.0/24', dev: 'eth0', protocol: 'kernel' },
];

test('no conflicts: the cluster ranges are routed', (t) => {
  t.deepEqual(planRoutes({ ...base, local: hostRoutes }), { routes: ['10.96.0.0/12', '10.244.0.0/16'], conflicts: [] });
});

test('a default route never conflicts, nor do unreachable last-resort routes or our own device', (t) => {
  const local: LocalRoute[] = [
    ...hostRoutes,
    { dst: '10.96.0.0/12', type: 'unreachable' },
    { dst: '10.244.0.0/16', type: 'blackhole' },
    { dst: '10.244.0.0/16', dev: 'devnet0' },
    { dst: '0.0.0.0/0', dev: 'wg0' },
  ];
  t.deepEqual(planRoutes({ ...base, local }).conflicts, []);
});

test('a Docker bridge inside the pod range is a conflict naming both routes and the flags', (t) => {
  const local: LocalRoute[] = [...hostRoutes, { dst: '10.244.7.0/24', dev: 'docker0', protocol: 'kernel' }];
  const plan = planRoutes({ ...base, local });
  t.is(plan.conflicts.length, 1);
  const err = conflictError(plan.conflicts);
  t.regex(err.message, /pod range 10\.244\.0\.0\/16 overlaps your route "10\.244\.7\.0\/24 dev docker0"/);
  t.regex(err.hint ?? '', /--never-proxy 10\.244\.7\.0\/24/);
  t.regex(err.hint ?? '', /--allow-conflict 10\.244\.0\.0\/16/);
  t.is(err.category, 'config');
});

test('--never-proxy carves the conflicting part out; the rest is still routed', (t) => {
  const local: LocalRoute[] = [...hostRoutes, { dst: '10.244.7.0/24', dev: 'docker0' }];
  const plan = planRoutes({ ...base, local, neverProxy: ['10.244.7.0/24'] });
  t.deepEqual(plan.conflicts, []);
  t.true(plan.routes.includes('10.96.0.0/12'));
  t.false(plan.routes.includes('10.244.0.0/16'));
  t.true(plan.routes.includes('10.244.8.0/21'));
  t.true(plan.routes.includes('10.244.6.0/24'));
});

test('--allow-conflict takes the range over anyway', (t) => {
  const local: LocalRoute[] = [...hostRoutes, { dst: '10.96.0.0/16', dev: 'tun9', gateway: '10.8.0.1' }];
  t.is(planRoutes({ ...base, local }).conflicts.length, 1);
  t.deepEqual(planRoutes({ ...base, local, allowConflicts: ['10.96.0.0/12'] }).conflicts, []);
});

test('--also-proxy adds ranges; bad flags are user errors', (t) => {
  const plan = planRoutes({ ...base, local: hostRoutes, alsoProxy: ['172.20.0.0/16'] });
  t.true(plan.routes.includes('172.20.0.0/16'));
  t.throws(() => planRoutes({ ...base, local: hostRoutes, neverProxy: ['nope'] }), {
    message: /--never-proxy nope is not a CIDR/,
  });
});

test('parseIpRouteJson reads ip -j output and tolerates junk', (t) => {
  const json = JSON.stringify([
    { dst: 'default', gateway: '192.0.2.1', dev: 'eth0', flags: [] },
    { type: 'unreachable', dst: '10.96.0.0/12', flags: [] },
    { dst: '192.0.2.0/24', dev: 'eth0', protocol: 'kernel', scope: 'link', prefsrc: '192.0.2.2', flags: [] },
    'junk',
  ]);
  t.deepEqual(parseIpRouteJson(json), [
    { dst: 'default', gateway: '192.0.2.1', dev: 'eth0' },
    { dst: '10.96.0.0/12', type: 'unreachable' },
    { dst: '192.0.2.0/24', dev: 'eth0', protocol: 'kernel' },
  ]);
  t.deepEqual(parseIpRouteJson('not json'), []);
});
