import test from 'ava';
import { contains, coverAddresses, mergeCidrs, overlaps, parseCidr, subtract } from './cidr.ts';

const c = (s: string) => {
  const v = parseCidr(s);
  if (!v) throw new Error(`bad cidr ${s}`);
  return v;
};

test('parseCidr normalises host bits and accepts bare addresses', (t) => {
  t.is(c('10.96.3.4/12').text, '10.96.0.0/12');
  t.is(c('10.0.0.7').text, '10.0.0.7/32');
  t.is(c('fd00:0:0:0::1/108').text, 'fd00::/108');
  t.is(c('2001:db8::/32').text, '2001:db8::/32');
  for (const bad of ['10.0.0.0/33', 'x/8', '', '10.0.0/8', 'fd00::/129', '10.0.0.0/-1'])
    t.is(parseCidr(bad), undefined, bad);
});

test('overlap and containment', (t) => {
  t.true(overlaps(c('10.96.0.0/12'), c('10.100.0.0/16')));
  t.false(overlaps(c('10.96.0.0/12'), c('10.112.0.0/16')));
  t.false(overlaps(c('10.0.0.0/8'), c('fd00::/8')));
  t.true(contains(c('10.0.0.0/8'), c('10.244.1.0/24')));
  t.false(contains(c('10.244.1.0/24'), c('10.0.0.0/8')));
});

test('subtract splits a prefix around a hole', (t) => {
  t.deepEqual(
    subtract(c('10.96.0.0/12'), c('10.100.0.0/14')).map((x) => x.text),
    ['10.96.0.0/14', '10.104.0.0/13'],
  );
  t.deepEqual(subtract(c('10.0.0.0/8'), c('10.0.0.0/7')), []);
  t.deepEqual(
    subtract(c('10.0.0.0/8'), c('192.168.0.0/16')).map((x) => x.text),
    ['10.0.0.0/8'],
  );
});

test('coverAddresses groups observed IPs', (t) => {
  t.deepEqual(
    coverAddresses(['10.244.0.5', '10.244.1.9', '10.245.0.1', 'fd00:10:244::5', 'junk']).map((x) => x.text),
    ['10.244.0.0/16', '10.245.0.0/16', 'fd00:10:244::/64'],
  );
});

test('mergeCidrs drops covered prefixes', (t) => {
  t.deepEqual(
    mergeCidrs([c('10.244.1.0/24'), c('10.244.0.0/16'), c('10.96.0.0/12')]).map((x) => x.text),
    ['10.96.0.0/12', '10.244.0.0/16'],
  );
});
