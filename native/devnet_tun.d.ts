// Types of the native addon built from binding.gyp (native/tun_linux.cc).
// On platforms without an implementation every function throws ENOTSUP.

/** TunPollerOptions sizes the read path: packets per batch and slab memory. */
export interface TunPollerOptions {
  mtu: number;
  maxBatch: number;
  slabSize: number;
}

/** NativeTunStats are the addon's own counters for one device. */
export interface NativeTunStats {
  packetsRead: number;
  bytesRead: number;
  packetsWritten: number;
  bytesWritten: number;
  readBatches: number;
  writeErrors: number;
  lastWriteErrno: number;
}

/** TunPoller drives one non-blocking TUN fd from the libuv loop. */
export declare class TunPoller {
  constructor(
    fd: number,
    options: TunPollerOptions,
    onPackets: (packets: Uint8Array[]) => void,
    onWritable: () => void,
    onError: (err: Error) => void,
  );
  /** write takes packets (each one buffer or its parts) and returns how many the kernel accepted. */
  write(packets: ReadonlyArray<Uint8Array | ReadonlyArray<Uint8Array>>): number;
  pause(): void;
  resume(): void;
  close(): void;
  stats(): NativeTunStats;
}

export interface DevnetTunAddon {
  platform: 'linux' | 'unsupported';
  openTun(name: string, options?: { multiQueue?: boolean; blocking?: boolean }): { fd: number; name: string };
  tunIoctl(fd: number, what: 'owner' | 'group' | 'persist', value: number, device?: string): void;
  setMtu(name: string, mtu: number): void;
  setUp(name: string, up: boolean): void;
  closeFd(fd: number): void;
  sendFd(socketPath: string, fd: number): void;
  receiveFd(socketPath: string, timeoutMs: number, callback: (err: Error | null, fd?: number) => void): void;
  checksum(data: Uint8Array, initial?: number): number;
  TunPoller: typeof TunPoller;
}
