// Shared jest preset: ts-jest in transpile-only mode (isolatedModules in tsconfig.jest.json; type checking is the
// typecheck step's job),
// and @aevo/<lib> mapped to the library's sources so tests need no prior build.
const path = require('path');
module.exports = {
  testEnvironment: 'node',
  // jest's 5 s default fails CPU-bound property tests when CI runs two projects' suites on two cores; a hang is still
  // caught. Suites that need longer set their own.
  testTimeout: 30_000,
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: path.join(__dirname, 'tsconfig.jest.json') }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@aevo/([a-z0-9-]+)$': path.join(__dirname, 'libs/$1/src/index.ts'),
  },
  testMatch: ['**/?(*.)+(spec|test).ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
