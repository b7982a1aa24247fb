// The module's ABI exports by package name: a filter's entry file re-exports them, exactly once, with
//   export * from "outrigger/sdk/exports";
// Same as sdk/assembly/exports.ts.
export * from './assembly/exports';
