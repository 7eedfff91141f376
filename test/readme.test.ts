// The README is read first, often on a code host where only the repository
// exists: every path it points at must be a file of the repository.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import test from 'ava';

const root = join(import.meta.dirname, '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');

test('every link and path in the README is inside the repository and exists', (t) => {
  const links = [...readme.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)].map((m) => m[1] as string);
  const paths = [...readme.matchAll(/`((?:\.\.?\/|docs\/|src\/|test\/|scripts\/)[^`\s]*)`/g)].map(
    (m) => m[1] as string,
  );
  t.true(links.length > 0);
  for (const target of [...links, ...paths].filter((l) => !/^[a-z]+:/.test(l))) {
    const abs = resolve(root, target);
    t.false(relative(root, abs).startsWith('..'), `${target} points outside the repository`);
    t.true(existsSync(abs), `${target} does not exist`);
  }
});

test('every doc the README lists is in docs/', (t) => {
  const listed = readme.slice(readme.indexOf('Docs: [docs/]'));
  for (const m of listed.matchAll(/`([a-zA-Z-]+\.md)`/g)) t.true(existsSync(join(root, 'docs', m[1] as string)), m[1]);
});
