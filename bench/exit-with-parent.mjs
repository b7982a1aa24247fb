// Preloaded (node --import) into every child the benchmark starts, including the Outrigger CLI,
// which the benchmark cannot modify: if the benchmark process dies without cleaning up (SIGKILL,
// crash), its children notice they were re-parented and exit, so no stray servers survive it.
// One cheap ppid check per second, on an unref'd timer: no measurable cost, never keeps a process alive.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 1000).unref();
