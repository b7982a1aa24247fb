// The package's programmatic API (`import { startOutrigger } from "outrigger"`): run a proxy from a
// config file or object, and the filter-project tools behind `outrigger new` and `outrigger build`.

export type { OutriggerConfig } from './config/config.js';
export { demoConfig } from './config/demo-config.js';
export { loadConfigFile, parseConfig } from './config/load-config.js';
export { OutriggerError } from './errors.js';
export type { ErrorCode } from './errors.js';
export { buildProject, findProject } from './cli/build.js';
export { newProject } from './cli/new.js';
export { startOutrigger } from './server.js';
export type { RunningOutrigger, StartOptions } from './server.js';
