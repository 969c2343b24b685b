// ESLint (flat config): TypeScript and Vue rules for every source folder; formatting is Prettier's
// (`npm run format`), so eslint-config-prettier turns the stylistic rules off.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import vue from 'eslint-plugin-vue';
import prettier from 'eslint-config-prettier';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['node_modules/', 'web/dist/', '.wrangler/', 'worker/worker-configuration.d.ts', 'e2e/screenshots/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['**/*.vue'],
    languageOptions: { parserOptions: { parser: tseslint.parser, extraFileExtensions: ['.vue'] } },
  },
  {
    languageOptions: { globals: { ...globals.browser, ...globals.node } },
    rules: {
      // tsc's noUnusedLocals / noUnusedParameters report these already, with `_` for a deliberate gap
      '@typescript-eslint/no-unused-vars': 'off',
      // one-word view names (AuditPage is `Audit…`, but App.vue) are the router's, not HTML's
      'vue/multi-word-component-names': 'off',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-console': ['error', { allow: ['warn', 'error'] }],
    },
  },
  {
    // a test reads an answer's body loosely and asserts its shape with expect()
    files: ['**/*.test.ts', 'worker/test/**', 'e2e/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // ambient declarations can only name module types with import()
    files: ['**/*.d.ts'],
    rules: { '@typescript-eslint/consistent-type-imports': 'off' },
  },
  {
    // command-line tools print their results
    files: ['scripts/**', 'bench/**', 'e2e/**'],
    rules: { 'no-console': 'off' },
  },
  prettier,
);
