// Lint: typescript-eslint's type-aware recommended rules plus Pulumi's own rules (e.g. no Output in template
// strings) on every TypeScript file of the project, and no import cycles (import-x/no-cycle: the engine's rooms
// point one way). scripts/import-cycles.js adds the type-only imports, which no-cycle skips.
import tseslint from "typescript-eslint";
import pulumi from "@pulumi/eslint-plugin";
import { importX } from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

export default tseslint.config(
  {
    // test/fixtures/import-cycle/ is a cycle on purpose: test/unit/import-cycles.test.ts lints it to prove the rule fires.
    ignores: [
      "node_modules/**",
      "policy/node_modules/**",
      "dist/**",
      "**/*.js",
      "**/*.mjs",
      ".state/**",
      "test/fixtures/import-cycle/**",
    ],
  },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { "@pulumi": pulumi, "import-x": importX },
    settings: {
      // Without these import-x reads only .js files, and no-cycle would see no TypeScript import at all.
      "import-x/extensions": [".ts", ".js"],
      "import-x/parsers": { "@typescript-eslint/parser": [".ts"] },
      "import-x/resolver-next": [
        createTypeScriptImportResolver({
          project: ["tsconfig.json", "policy/tsconfig.json"],
          noWarnOnMultipleProjects: true,
        }),
      ],
    },
    rules: {
      "import-x/no-cycle": ["error", { ignoreExternal: true }],
      "@pulumi/no-output-in-template-literal": "error",
      "@pulumi/no-output-instance-in-template-literal": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["test/**/*.ts"],
    rules: {
      "@typescript-eslint/no-unused-expressions": "off",
      "@typescript-eslint/no-floating-promises": "off",
    },
  },
);
