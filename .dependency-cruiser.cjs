// Import direction of the three wings (issue #21): tests (test/) -> tools (tools/, and scripts/, the build and test
// runner) -> testbed (testbed/) -> product (infra/, smoke/, monitoring/: what `pulumi up` runs and what ships into
// containers). Checked by test/architecture/import-direction.test.ts, in `npm test`:
//   node_modules/.bin/depcruise --config .dependency-cruiser.cjs .
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "product-imports-outside-product",
      comment: "infra/, smoke/ and monitoring/ are what pulumi up runs and what ships: they may not import testbed/, tools/, scripts/ or test/",
      severity: "error",
      from: { path: "^(infra|smoke|monitoring)/" },
      to: { path: "^(testbed|tools|scripts|test)/" },
    },
    {
      name: "testbed-imports-tools-or-tests",
      comment: "testbed/ stands in for Pulumi, Docker and Kubernetes under the product: it may import the product only, not tools/, scripts/ or test/",
      severity: "error",
      from: { path: "^testbed/" },
      to: { path: "^(tools|scripts|test)/" },
    },
    {
      name: "outside-tests-imports-tests",
      comment: "only test/ may import test/ (its helpers and fixtures); tools/ and scripts/ included",
      severity: "error",
      from: { pathNot: "^test/" },
      to: { path: "^test/" },
    },
    {
      name: "no-circular",
      comment: "a cycle makes load order matter and hides which module is the lower one",
      severity: "error",
      from: {},
      to: { circular: true },
    },
    {
      name: "not-to-unresolvable",
      comment: "an import the checker cannot resolve is an import it cannot judge",
      severity: "error",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(node_modules|docs|\\.git)/" },
    // Type-only imports count: `import type` from testbed/ in infra/ is the same coupling.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      extensions: [".ts", ".mjs", ".cjs", ".js", ".json"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
