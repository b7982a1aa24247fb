// The SDK by package name: a filter project imports its API with
//   import { HttpContext, RootContext, ... } from "outrigger/sdk";
// (asc resolves "outrigger/sdk" to node_modules/outrigger/sdk/index.ts). Same as sdk/assembly/index.ts.
export * from './assembly/index';
