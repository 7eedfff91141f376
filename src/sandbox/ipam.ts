// Pod address allocation from the node's /24: .0 is the network, .1 the
// node itself, .255 broadcast; pods get .2 to .254, lowest free first.

/** PodIpam hands out and takes back pod /32s from one node's podCIDR. */
export class PodIpam {
  readonly #base: string;
  readonly #used = new Set<number>();

  /** constructor takes the /24's first three octets' prefix, e.g. "10.244.0". */
  constructor(base: string) {
    this.#base = base;
  }

  /** allocate returns a free address, or undefined when the range is exhausted. */
  allocate(): string | undefined {
    for (let host = 2; host < 255; host++) {
      if (!this.#used.has(host)) {
        this.#used.add(host);
        return `${this.#base}.${host}`;
      }
    }
    return undefined;
  }

  /** claim marks an address as used (a pod that already has it); false if it was taken or is not in range. */
  claim(ip: string): boolean {
    const host = this.#host(ip);
    if (host === undefined || this.#used.has(host)) return false;
    this.#used.add(host);
    return true;
  }

  /** release frees an address. */
  release(ip: string): void {
    const host = this.#host(ip);
    if (host !== undefined) this.#used.delete(host);
  }

  #host(ip: string): number | undefined {
    if (!ip.startsWith(`${this.#base}.`)) return undefined;
    const host = Number(ip.slice(this.#base.length + 1));
    return Number.isInteger(host) && host >= 2 && host <= 254 ? host : undefined;
  }
}
