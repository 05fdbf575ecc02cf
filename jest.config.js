// Two tiers: "unit" needs nothing; "kernel" needs root and makes throwaway network namespaces.
// ts-jest only transpiles (isolatedModules); `tsc` in scripts/setup.sh does the type checking.
const transform = { '^.+\\.ts$': ['ts-jest', { isolatedModules: true }] };
module.exports = {
  projects: [
    { displayName: 'unit', testEnvironment: 'node', transform, testMatch: ['<rootDir>/src/**/*.spec.ts'] },
    {
      displayName: 'kernel',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/src/**/*.kernel.ts', '<rootDir>/netns-tests/**/*.test.ts'],
    },
  ],
};
