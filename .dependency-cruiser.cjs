/**
 * Import rules checked by `pnpm lint` (dependency-cruiser). Why a tool and not review: a cycle
 * between modules makes load order matter and hides which file is the lower layer; type-only
 * imports count too (tsPreCompilationDeps), since a type cycle is the same tangle for a reader.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'Modules must not import each other in a loop (type imports included). Move the shared part to a lower module.',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
  },
};
