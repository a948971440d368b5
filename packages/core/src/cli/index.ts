// `@trellis/core/cli`: what a package needs to add commands and doctor checks to the `trellis` bin.
export {
  type CommandEntry,
  commandTable,
  findTrellisPackages,
  pickEntry,
  type TrellisPackage,
} from './commands.js';
export {
  type DoctorCheck,
  type DoctorContext,
  type DoctorFinding,
  type DoctorIo,
  type DoctorStatus,
  main as doctorMain,
  nodeCheck,
  TESTED_NODE_MAJORS,
} from './doctor.js';
export { runCli } from './run-cli.js';
export { type CliStreams, cliStreams, parseFlagsOr } from './streams.js';
export { type FlagCursor, walkFlags } from './walk-flags.js';
