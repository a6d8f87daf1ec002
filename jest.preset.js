// Shared jest preset: ts-jest in transpile-only mode (type checking is the build's job),
// and @aevo/<lib> mapped to the library's sources so tests need no prior build.
const path = require('path');
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { isolatedModules: true, tsconfig: path.join(__dirname, 'tsconfig.base.json') }],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  moduleNameMapper: {
    '^@aevo/([a-z0-9-]+)$': path.join(__dirname, 'libs/$1/src/index.ts'),
  },
  testMatch: ['**/?(*.)+(spec|test).ts'],
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};
