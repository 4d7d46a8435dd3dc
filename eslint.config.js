// Lint rules only (no formatting), type-aware: the ones that matter in stream and async code need the types,
// e.g. a floating promise from events.once or stream/promises. `npm run lint`; part of `npm test`.
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

export default defineConfig(
  // The build's output (npm run build): declarations of the sources linted here.
  { ignores: ['dist/'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // node:test registers a test with test()/it()/describe(); the promise they return is the runner's.
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] }],
      }],
      // tsc's noUnusedLocals / noUnusedParameters say it already: one way.
      '@typescript-eslint/no-unused-vars': 'off',
      // An async method that implements a Promise-returning interface need not await anything.
      '@typescript-eslint/require-await': 'off',
      // A failure caught as unknown is kept and rethrown later, as it came (`if (this.error !== undefined) throw this.error`).
      '@typescript-eslint/only-throw-error': 'off',
      // An aborted wait rejects with the signal's reason, whatever the aborter gave it (as Node's own timers do).
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true }],
    },
  },
);
