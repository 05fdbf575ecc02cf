// Unit: the one place that edits the desired state's bookkeeping (owned VRFs, MTUs and sysctls from before).
import type { Link } from '../netlink/link';
import { afterApply, beforeApply, mergeBookkeeping, noBookkeeping, withBookkeeping } from './bookkeeping';
import { DesiredState, emptyState } from './desired-state';
import type { Op } from './kinds';

const vrfCreate = (name: string): Op => ({ kind: 'vrf', action: 'create', name, table: 100 });
const vrfDelete = (name: string): Op => ({ kind: 'vrf', action: 'delete', name, table: 100 });
const state = (over: Partial<DesiredState> = {}): DesiredState => ({ ...emptyState(), ...over });

describe('afterApply', () => {
  it('matches failures by operation, not by name: a failed vrf-ab does not disown a created vrf-a', () => {
    const a = vrfCreate('vrf-a');
    const ab = vrfCreate('vrf-ab');
    const b = afterApply([a, ab], new Set([ab]));
    expect(b.ownVrfs).toEqual(['vrf-a']);
    expect(b.disownVrfs).toEqual(['vrf-ab']);
    expect(withBookkeeping(state({ ownedVrfs: ['vrf-a', 'vrf-ab'] }), b).ownedVrfs).toEqual(['vrf-a']);
  });

  it('forgets released MTUs and restored sysctls unless their operation failed', () => {
    const release: Op = { kind: 'link', action: 'release', name: 'tap0', mtu: 1500 };
    const restoreOk: Op = { kind: 'sysctl', action: 'restore', path: ['net', 'ipv4', 'conf', 'tap0', 'rp_filter'], value: '1' };
    const restoreFailed: Op = { kind: 'sysctl', action: 'restore', path: ['net', 'ipv4', 'conf', 'tap1', 'rp_filter'], value: '1' };
    const b = afterApply([release, restoreOk, restoreFailed], new Set([restoreFailed]), ['gone0'], ['net/ipv4/conf/gone0/rp_filter']);
    expect(b.forgetMtu).toEqual(['gone0', 'tap0']);
    expect(b.forgetSysctl).toEqual(['net/ipv4/conf/gone0/rp_filter', 'net/ipv4/conf/tap0/rp_filter']);
  });

  it('keeps a re-created VRF owned (delete, then create of the same name)', () => {
    const b = afterApply([vrfDelete('vrf-x'), vrfCreate('vrf-x')], new Set());
    expect(withBookkeeping(state({ ownedVrfs: ['vrf-x', 'vrf-y'] }), b).ownedVrfs).toEqual(['vrf-y', 'vrf-x']);
  });
});

describe('beforeApply', () => {
  it('saves first-time MTUs and readable sysctls, and owns VRFs about to be created', () => {
    const links = new Map([['tap0', { name: 'tap0', mtu: 9000 } as Link]]);
    const sysctls = new Map<string, string | undefined>([
      ['net/ipv4/conf/tap0/rp_filter', '2'],
      ['net/ipv4/conf/tap1/rp_filter', undefined],
    ]);
    const ops: Op[] = [
      vrfCreate('vrf-new'),
      vrfCreate('vrf-old'),
      { kind: 'link', action: 'configure', link: { name: 'tap0', mtu: 1400 } } as Op,
      { kind: 'link', action: 'configure', link: { name: 'tap9', mtu: 1400 } } as Op,
      { kind: 'sysctl', action: 'set', path: ['net', 'ipv4', 'conf', 'tap0', 'rp_filter'], value: '0' },
      { kind: 'sysctl', action: 'set', path: ['net', 'ipv4', 'conf', 'tap1', 'rp_filter'], value: '0' },
    ];
    const b = beforeApply(ops, state({ ownedVrfs: ['vrf-old'], originalMtu: { tap9: 1500 } }), links, sysctls);
    expect(b.ownVrfs).toEqual(['vrf-new']);
    expect(b.saveMtu).toEqual({ tap0: 9000 });
    expect(b.saveSysctl).toEqual({ 'net/ipv4/conf/tap0/rp_filter': '2' });
  });
});

describe('withBookkeeping', () => {
  it('returns the same object when nothing changes (the commit then writes nothing)', () => {
    const s = state({ ownedVrfs: ['vrf-a'], originalMtu: { tap0: 1500 } });
    expect(withBookkeeping(s, noBookkeeping())).toBe(s);
    expect(withBookkeeping(s, { ...noBookkeeping(), ownVrfs: ['vrf-a'], saveMtu: { tap0: 9000 } })).toBe(s);
  });

  it('never overwrites a value saved before (the first one is the one from before the agent)', () => {
    const s = withBookkeeping(state({ originalMtu: { tap0: 1500 }, originalSysctl: { k: '1' } }), {
      ...noBookkeeping(),
      saveMtu: { tap0: 1400, tap1: 9000 },
      saveSysctl: { k: '0' },
    });
    expect(s.originalMtu).toEqual({ tap0: 1500, tap1: 9000 });
    expect(s.originalSysctl).toEqual({ k: '1' });
  });

  it('merged changes keep the earlier saved value and every forget', () => {
    const m = mergeBookkeeping(
      { ...noBookkeeping(), saveMtu: { tap0: 1500 }, forgetMtu: ['a'] },
      { ...noBookkeeping(), saveMtu: { tap0: 1400 }, forgetMtu: ['b'] },
    );
    expect(m.saveMtu).toEqual({ tap0: 1500 });
    expect(m.forgetMtu).toEqual(['a', 'b']);
  });
});
