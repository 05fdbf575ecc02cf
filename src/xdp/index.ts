// Public surface of the XDP decapsulation offload (ADR 0004).
export {
  DEFAULT_PIN_ROOT,
  ensureBpffs,
  XdpOffload,
  type XdpApplyResult,
  type XdpAttachment,
  type XdpAttachMode,
  type XdpOffloadOptions,
  type XdpOffloadState,
  type XdpSidCounters,
  type XdpSidEntry,
  type XdpSyncResult,
} from './xdp-offload';
export { xdpDesired, type XdpDesired } from './entries';
export { FIB_TBID_FEATURE, requireXdpOffloadCapabilities } from './xdp-requirements';
export { REASONS, XDP_BEHAVIOURS, type PassReason, type Reason, type SidStats, type XdpBehaviour } from './layout';
