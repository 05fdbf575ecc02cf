import { DesiredState, emptyState, upgradeState } from './desired-state';

describe('upgradeState', () => {
  it('a state written before sysctls were restored gets an empty originalSysctl (nothing to restore); a current one is returned as it is', () => {
    const { originalSysctl: _o, ...old } = { ...emptyState(), version: 3, originalMtu: { tap0: 1500 } };
    const up = upgradeState(old as unknown as DesiredState);
    expect(up.originalSysctl).toEqual({});
    expect(up).toEqual({ ...emptyState(), version: 3, originalMtu: { tap0: 1500 } });
    expect(upgradeState(up)).toBe(up);
  });
});
