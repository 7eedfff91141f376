// Socket errors mapped to OPEN_REJECT reasons (docs/protocol.md, "OPEN_REJECT
// reasons"): one table for the gateway's dialer and the laptop's local dialer.
import type { RejectReason } from './control.ts';

/** rejectReasonFor maps a socket errno to the OPEN_REJECT reason the opener sees. */
export function rejectReasonFor(code: string | undefined): RejectReason {
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'EACCES':
    case 'EPERM':
      return 'forbidden';
    case 'EMFILE':
    case 'ENFILE':
    case 'ENOBUFS':
    case 'ENOMEM':
      return 'limit';
    case 'EINVAL':
    case 'EAFNOSUPPORT':
      return 'invalid';
    default:
      // EHOSTUNREACH, ENETUNREACH, ENETDOWN, EHOSTDOWN, EADDRNOTAVAIL, ...
      return 'unreachable';
  }
}
