// TunWrapper is the base of devices that wrap another TunDevice (PcapTun,
// FaultTun): everything is passed through to the inner device unless a
// subclass overrides it.
import type { Packet, TunDevice, TunHandlers, TunStats } from './device.ts';

/** TunWrapper delegates every TunDevice method to an inner device. */
export abstract class TunWrapper implements TunDevice {
  protected readonly inner: TunDevice;

  constructor(inner: TunDevice) {
    this.inner = inner;
  }

  get name(): string {
    return this.inner.name;
  }

  get mtu(): number {
    return this.inner.mtu;
  }

  attach(handlers: TunHandlers): void {
    this.inner.attach(handlers);
  }

  write(packets: readonly Packet[]): boolean {
    return this.inner.write(packets);
  }

  pause(): void {
    this.inner.pause();
  }

  resume(): void {
    this.inner.resume();
  }

  stats(): TunStats {
    return this.inner.stats();
  }

  close(): void {
    this.inner.close();
  }
}
