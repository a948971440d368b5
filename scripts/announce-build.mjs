#!/usr/bin/env node
// First step of `pnpm example:*`: says that a build comes, since `tsc -b` and the bundler print
// nothing for the 10-30 s they may take on a first run.
process.stderr.write('building… (tsc -b and the core bundle; quick when nothing changed)\n');
