// Shared lint rules for every TypeScript project in the workspace.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**', 'substrate/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'warn',
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  {
    // Domain logic is pure (decide/evolve): no framework, transport, database, file system or process there.
    files: ['**/src/domain/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@nestjs/*', '@nats-io/*', 'pg', 'pg-*', '@kubernetes/*', '@anthropic-ai/*'],
              message: 'domain code is pure: infrastructure lives in app/ or adapters',
            },
            {
              group: ['@aevo/eventstore', '@aevo/messaging', '@aevo/executors'],
              message: 'domain code is pure: it decides, the app layer stores and sends',
            },
          ],
          paths: [
            'fs',
            'node:fs',
            'fs/promises',
            'node:fs/promises',
            'child_process',
            'node:child_process',
            'net',
            'node:net',
            'http',
            'node:http',
          ].map((name) => ({
            name,
            message: 'domain code is pure: no I/O in src/domain/',
          })),
        },
      ],
    },
  },
  {
    // A service reads its environment in one place (src/config.ts): typed, validated, with the variable named in
    // every error. Tests may set up environments as they like.
    files: ['services/*/src/**/*.ts'],
    ignores: ['services/*/src/config.ts', 'services/*/src/**/*.spec.ts', 'services/*/src/cli/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'read the environment in src/config.ts only' },
      ],
    },
  },
);
