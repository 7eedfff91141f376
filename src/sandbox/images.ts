// Images map to local programs: the sandbox pulls nothing. The gateway
// image runs the gateway from the image staged for this sandbox (image.ts);
// demo images run built-in servers; any other image leaves its pod in
// ImagePullBackOff.
import type { StagedImage } from './image.ts';

/** IMAGE_REPO is the registry path of devnet's own images. */
export const IMAGE_REPO = 'ghcr.io/devnet-dev';

/** BuiltinDemo names a demo server in src/sandbox/images/. */
export type BuiltinDemo = 'hello' | 'echo' | 'db';

/** Program is what a container image runs in the sandbox. */
export type Program = { kind: 'builtin'; demo: BuiltinDemo } | { kind: 'exec'; argv: string[] };

/** imageRepository strips the tag or digest from an image reference. */
export function imageRepository(image: string): string {
  const at = image.indexOf('@');
  const noDigest = at >= 0 ? image.slice(0, at) : image;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/** programFor maps an image (and the container's args) to a local program, or undefined for an unknown image. */
export function programFor(image: string, args: string[], staged: StagedImage): Program | undefined {
  const repo = imageRepository(image);
  switch (repo) {
    case `${IMAGE_REPO}/demo-hello`:
      return { kind: 'builtin', demo: 'hello' };
    case `${IMAGE_REPO}/demo-echo`:
      return { kind: 'builtin', demo: 'echo' };
    case `${IMAGE_REPO}/demo-db`:
      return { kind: 'builtin', demo: 'db' };
    case `${IMAGE_REPO}/gateway`:
      return { kind: 'exec', argv: [staged.node, staged.gatewayMain, ...args] };
    default:
      return undefined;
  }
}

/** KNOWN_IMAGES lists the images the sandbox can run, for error messages. */
export const KNOWN_IMAGES = ['demo-hello', 'demo-echo', 'demo-db', 'gateway'].map((n) => `${IMAGE_REPO}/${n}`);
