// rootTest registers a test that needs root (network namespaces, TUN). As
// root it runs serially. Without root it is skipped with the reason in its
// title, except under CI, where a root-only test that cannot run fails: CI
// must never silently skip the root suites.
import test, { type ExecutionContext } from 'ava';

export const isRoot = process.getuid?.() === 0;

/** rootTest is ava's test.serial for tests that need root. */
export function rootTest(title: string, impl: (t: ExecutionContext) => Promise<void> | void): void {
  if (isRoot) {
    test.serial(title, impl);
  } else if (process.env.CI) {
    test(title, (t) => {
      t.fail('this test needs root (network namespaces and TUN devices); CI runs as root, so this is a setup error');
    });
  } else {
    test.skip(`${title} [skipped: needs root]`, impl);
  }
}
